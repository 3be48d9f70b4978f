/*
 * train.c: `cugen train MODEL [flags]`, generic over the registry: the
 * flags every model shares, then the model's own from its table (defaults,
 * ranges, --help), the device, the run directory, and the result printed
 * from the named scalars of the run.
 *
 * Under mpirun (cugen/dist.h) every rank parses the same command; rank 0
 * alone prints, owns the run directory and writes; each rank takes the GPU
 * of its local rank.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/train_kinds.h"
#include "cugen/dist.h"
#include "cugen/trainer.h"

/* Where runs go without --out: RUNS_BASE/MODEL-N. */
#define RUNS_BASE "runs"
#define MAX_OPTS 64

/* A bad value from the user is a usage error (2); anything else failed work (1). */
static int exit_code(cg_status st)
{
    return st == CG_ERR_ARG ? 2 : 1;
}

void cli_train_list(void)
{
    for (int i = 0; i < cli_n_kinds; i++)
        printf("  %-14s %s\n", cli_kinds[i]->name, cli_kinds[i]->summary);
}

/* --out DIR: created if missing, locked for the life of the process, and,
 * unless resuming, refused when it holds a run (or cleared by --overwrite).
 * 0, or the exit code after a one-line message. */
static int open_out(const char *cmd, const cg_model_kind *k, const char *out,
                    const cg_train_opts *o)
{
    char err[4400];
    cg_status st = cg_mkdirs(out, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s %s: --out: %s\n", cmd, k->name, err);
        return 2;
    }
    static int lock_fd = -1;  /* held until the process ends */
    if ((st = cg_rundir_lock(out, &lock_fd, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s %s: --out%s %s\n", cmd, k->name, st == CG_ERR_IO ? ":" : "", err);
        return st == CG_ERR_IO ? 1 : 2;
    }
    if (o->resume)
        return 0;
    int removed = 0;
    if ((st = cg_rundir_start(out, o->overwrite, k->checkpoints, &removed, err,
                               sizeof err)) != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, k->name, err);
        return exit_code(st);
    }
    if (o->overwrite)
        printf("out: %s (--overwrite: removed %d file%s of the previous run)\n", out, removed,
               removed == 1 ? "" : "s");
    return 0;
}

/* What the run printed and result.json, from its scalars. */
static void report(const cg_model_kind *k, const cg_train_opts *o, const void *settings,
                   const cg_train_result *r)
{
    if (r->ended_again)  /* no step trained: no rate */
        printf("\n%s: %lld steps; the run was stopped after its last checkpoint, before its "
               "end was written: written now\n", k->title, (long long)r->steps);
    else if (k->own_data)  /* fresh points every step: no epochs, no images */
        printf("\n%s: %lld steps, %.1f points/s\n", k->title, (long long)r->steps,
               r->img_per_s);
    else
        printf("\n%s: %lld steps (%lld epochs complete), %.1f img/s\n", k->title,
               (long long)r->steps, (long long)r->epochs_done, r->img_per_s);
    if (r->out_of_time)
        printf("  stopped at --max-minutes %g (--resume continues)\n", o->max_minutes);
    const cg_scalars *both[2] = {&r->last, &r->final};
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < both[j]->n; i++)
            printf("%s%s %.4f%s", i ? ", " : j ? "  at the end: " : "  last step: ",
                   both[j]->name[i], both[j]->value[i], i + 1 == both[j]->n ? "\n" : "");
    if (k->report)
        k->report(o, settings, r);
    if (!o->out_dir)
        return;
    if (k->files) {
        printf("  ");
        for (const char *s = k->files; *s; s++)
            if (s[0] == '%' && s[1] == 's')
                fputs(o->out_dir, stdout), s++;
            else
                putchar(*s);
        if (k->checkpoints)
            printf("; resume state: %s/%s", o->out_dir, CG_CKPT_LATEST);
        printf("\n");
    }
    FILE *f = cli_open_result(o);
    if (!f)
        return;
    fprintf(f, "{\"model\": \"%s\", \"steps\": %lld, \"epochs\": %lld", k->name,
            (long long)r->steps, (long long)r->epochs_done);
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < both[j]->n; i++)
            fprintf(f, ", \"%s\": %s", both[j]->name[i], cli_jnum((char[32]){0},
                                                                both[j]->value[i]));
    fprintf(f, ", \"img_per_s\": %.6g}\n", r->img_per_s);
    fclose(f);
}

int cli_train_run(const cg_model_kind *k, const cg_train_opts *o, const void *settings)
{
    cg_train_result r;
    char err[6000];
    cg_status st = cg_trainer_run(k, settings, o, &r, err, sizeof err);
    if (st != CG_OK) {
        if (cg_dist_size() > 1)
            fprintf(stderr, "cugen train (rank %d of %d) %s\n", cg_dist_rank(), cg_dist_size(),
                    err);
        else
            fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    if (cg_dist_rank() != 0)
        return 0;
    if (r.done_before)
        printf("\n%s: the run in %s already has %lld steps, this command asks for %lld: "
               "nothing to train; its files are as they were (a larger --steps or --epochs "
               "continues it)\n", k->name, o->out_dir, (long long)r.done_before,
               (long long)r.asked);
    else
        report(k, o, settings, &r);
    return 0;
}

static int train_main(int argc, char **argv);

int cli_train(int argc, char **argv)
{
    int rc = train_main(argc, argv);
    cg_dist_end(rc);  /* a failed rank ends the job: the others may wait in a collective */
    return rc;
}

static int train_main(int argc, char **argv)
{
    const char *cmd = "cugen train";
    cg_train_opts o = {0};
    const char *device = "auto", *out = NULL;
    int64_t seed = 0, image_size = 0;
    int no_out = 0;
    arg_opt opts[MAX_OPTS];
    int nshared = cli_shared_flags(opts, &o, &device, &out, &seed, &image_size, &no_out);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        args_usage(cmd, "MODEL [flags]", opts, nshared);
        printf("\nmodels (cugen train MODEL --help for their own flags):\n");
        cli_train_list();
        return argc < 2 ? 2 : 0;
    }
    const cg_model_kind *k = cli_kind_find(argv[1]);
    if (!k) {
        fprintf(stderr, "%s: unknown model '%s' (see %s --help)\n", cmd, argv[1], cmd);
        return 2;
    }
    void *settings = calloc(1, k->settings_size ? k->settings_size : 1);
    if (!settings)
        return 1;
    int nopts = cli_model_flags(k, opts, nshared, MAX_OPTS, settings);
    int r = cli_flags_foreign(cmd, k, opts, nopts, argc, argv);
    if (r == ARGS_OK)
        r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    if (r == ARGS_HELP)
        cli_flags_usage(cmd, k, opts, nshared, nopts);
    if (r == ARGS_OK)
        r = cli_flags_apply(cmd, k, opts, nshared, nopts, settings);
    if (r != ARGS_OK) {
        free(settings);
        return r == ARGS_HELP ? 0 : 2;
    }
    if (image_size && image_size != 32 && image_size != 64) {
        fprintf(stderr, "%s %s: --image-size must be 32 or 64, got %lld\n", cmd, k->name,
                (long long)image_size);
        free(settings);
        return 2;
    }
    o.image_size = (int)image_size;
    o.seed = (uint64_t)seed;
    const cg_model_kind *parent = k;
    if (!(k = cli_flags_variant(cmd, k, opts, nshared, nopts, &o, settings))) {
        free(settings);
        return 2;
    }
    if ((r = cli_flags_settle(cmd, k, &o, out, no_out, settings)) != 0) {
        free(settings);
        return r;
    }
    char note[320];
    int rc = cli_train_device(cmd, k, device, &o, note, sizeof note);
    if (rc == 0)
        rc = cli_train_join(cmd, k, &o);
    if (rc != 0) {
        free(settings);
        return rc;
    }
    int rank = cg_dist_rank();
    if (rank != 0) {  /* rank 0 alone has the run directory */
        out = NULL;
        no_out = 1;
    } else {
        printf("%s\n", note);
    }  /* --quiet drops the progress line, not where the run computes */
    static cg_settings_text record;
    o.settings = cli_settings(parent, opts, nshared, nopts, &o, &record);
    char may[256];
    snprintf(may, sizeof may, "%s %s", cli_may_change, k->may_change ? k->may_change : "");
    o.may_change = may;
    char made[4096];
    int fresh = 0;
    if (!out && !no_out) {
        char err[4400];
        if (cg_rundir_new(RUNS_BASE, k->name, made, sizeof made, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s %s: %s\n", cmd, k->name, err);
            free(settings);
            return 1;
        }
        out = made;
        fresh = 1;
        printf("out: %s\n", out);
    }
    if (out) {
        if ((rc = open_out(cmd, k, out, &o)) != 0) {
            if (fresh)
                cg_rundir_drop_if_empty(out, RUNS_BASE);
            free(settings);
            return rc;
        }
        o.out_dir = out;
    }
    fflush(stdout);  /* before the progress line on stderr, also when both go to one file */
    rc = cli_train_run(k, &o, settings);
    if (fresh && rc != 0)
        cg_rundir_drop_if_empty(out, RUNS_BASE);  /* a run refused by the model leaves nothing */
    free(settings);
    return rc;
}
