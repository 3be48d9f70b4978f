/*
 * test_readme.c: every `cugen` command of README.md's code blocks runs, in
 * order, shortened, in a scratch directory, and exits 0: so its flags,
 * model names and file paths cannot drift from the program.
 *
 * Shortened: training runs 2 steps on small batches and widths, evaluations
 * and samples use few images, benchmarks time one iteration without
 * PyTorch, --device cuda runs on the CPU. What the README leaves to the
 * user is made here: a CelebA folder of small JPEGs (DIR/img_align_celeba),
 * an image folder (DIR), and Inception weights of hashed values (the
 * FID test's fixture). `cugen prepare` runs first, since the README's
 * training commands read the file it writes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "img_fixtures.h"
#include "inception_fixture.h"

#define MAX_TOK 64
#define MAX_CMDS 96

typedef struct {
    char *tok[MAX_TOK];
    int n;
    int line;
} command;

/* The README's `cugen ...` lines inside ``` blocks, continuation lines
 * joined, comments dropped, split on spaces. */
static int read_commands(const char *text, command *cmd, int max)
{
    int n = 0, in_block = 0, lineno = 0;
    char joined[2048] = "";
    int start = 0;
    for (const char *p = text; *p && n < max;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        if (len >= sizeof line)
            len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        p = e ? e + 1 : p + len;
        lineno++;
        if (strncmp(line, "```", 3) == 0) {
            in_block = !in_block;
            continue;
        }
        if (!in_block)
            continue;
        if (!*joined && strncmp(line, "cugen ", 6) != 0)
            continue;
        if (!*joined)
            start = lineno;
        char *hash = strstr(line, " #");
        if (hash)
            *hash = '\0';
        size_t l = strlen(line);
        while (l && line[l - 1] == ' ')
            line[--l] = '\0';
        int more = l && line[l - 1] == '\\';
        if (more)
            line[--l] = '\0';
        strncat(joined, line, sizeof joined - strlen(joined) - 2);
        strcat(joined, " ");
        if (more)
            continue;
        command *c = &cmd[n++];
        c->n = 0;
        c->line = start;
        for (char *t = strtok(joined + 6, " "); t && c->n < MAX_TOK - 1; t = strtok(NULL, " "))
            c->tok[c->n++] = strdup(t);
        joined[0] = '\0';
    }
    return n;
}

static int find(const command *c, const char *flag)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->tok[i], flag) == 0)
            return i;
    return -1;
}

/* --flag value set (or added), or with value NULL a flag without value added once */
static void set(command *c, const char *flag, const char *value)
{
    int i = find(c, flag);
    if (i >= 0 && value && i + 1 < c->n) {
        free(c->tok[i + 1]);
        c->tok[i + 1] = strdup(value);
        return;
    }
    if (i >= 0 || c->n + 2 >= MAX_TOK)
        return;
    c->tok[c->n++] = strdup(flag);
    if (value)
        c->tok[c->n++] = strdup(value);
}

static void drop(command *c, const char *flag, int with_value)
{
    int i = find(c, flag);
    if (i < 0)
        return;
    int k = with_value && i + 1 < c->n ? 2 : 1;
    for (int j = i; j < i + k; j++)
        free(c->tok[j]);
    memmove(c->tok + i, c->tok + i + k, sizeof c->tok[0] * (size_t)(c->n - i - k));
    c->n -= k;
}

static void rename_token(command *c, const char *from, const char *to)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->tok[i], from) == 0) {
            free(c->tok[i]);
            c->tok[i] = strdup(to);
        }
}

static int is(const command *c, int i, const char *word)
{
    return i < c->n && strcmp(c->tok[i], word) == 0;
}

/* "train dcgan ...": the flags of the last `train dcgan` in place of "..." */
static void expand_ellipsis(command *c, const command *all, int k)
{
    int at = find(c, "...");
    if (at < 0)
        return;
    const command *prev = NULL;
    for (int j = k - 1; j >= 0 && !prev; j--)
        if (all[j].n > 2 && is(&all[j], 0, c->tok[0]) && is(&all[j], 1, c->tok[1]) &&
            find(&all[j], "...") < 0)
            prev = &all[j];
    command out = {.n = 0, .line = c->line};
    for (int i = 0; i < at; i++)
        out.tok[out.n++] = c->tok[i];
    for (int i = 2; prev && i < prev->n && out.n < MAX_TOK - 1; i++) {
        if (is(prev, i, "--out")) {
            i++;
            continue;
        }
        out.tok[out.n++] = strdup(prev->tok[i]);
    }
    free(c->tok[at]);
    for (int i = at + 1; i < c->n && out.n < MAX_TOK - 1; i++)
        out.tok[out.n++] = c->tok[i];
    *c = out;
}

/* What makes a command quick here; the README's meaning otherwise kept. */
static void shorten(command *c)
{
    rename_token(c, "MODEL", "dcgan");
    rename_token(c, "cuda", "cpu");
    rename_token(c, "celeba64.packed", "celeba64.pack");
    rename_token(c, "runs/dcgan64", "runs/celeba");
    if (is(c, 0, "train") && c->n > 1 && find(c, "--help") < 0) {
        const char *m = c->tok[1];
        drop(c, "--epochs", 1);
        set(c, "--steps", "2");
        set(c, "--quiet", NULL);
        int images = strcmp(m, "dcgan") == 0 || strcmp(m, "ddpm") == 0 ||
                     strcmp(m, "vae") == 0 || strcmp(m, "mlp-gan") == 0 ||
                     strcmp(m, "rbm") == 0 || strcmp(m, "classifier") == 0 ||
                     (strcmp(m, "realnvp") == 0 && find(c, "fashion-mnist") >= 0) ||
                     (strcmp(m, "ebm") == 0 && find(c, "moons") < 0);
        if (images)
            set(c, "--batch", "8");
        if (strcmp(m, "ddpm") == 0) {
            set(c, "--ch", "8");
            set(c, "--ch-mult", "1,2");
            set(c, "--attn", "none");
            set(c, "--num-res-blocks", "1");
            set(c, "--ddim-steps", "2");
        }
        if (strcmp(m, "dcgan") == 0) {
            set(c, "--ngf", "8");
            set(c, "--ndf", "8");
        }
        if (find(c, "--fid-n") >= 0)
            set(c, "--fid-n", "16");
        if (find(c, "--ghost-bn") >= 0)
            set(c, "--ghost-bn", "4");  /* half of the batch of 8 */
        if (strcmp(m, "rbm") == 0) {
            set(c, "--ais-betas", "20");
            set(c, "--ais-runs", "2");
            set(c, "--gibbs", "3");
        }
        if (strcmp(m, "realnvp") == 0 && images)
            set(c, "--width", "4");
        if (strcmp(m, "vae") == 0 && find(c, "conv") >= 0)
            set(c, "--width", "4");
        if (strcmp(m, "ebm") == 0) {
            set(c, "--hidden", "8");
            if (find(c, "langevin") >= 0)
                set(c, "--langevin-steps", "2");
        }
        if (strcmp(m, "pixelcnn") == 0) {
            set(c, "--hidden", "4");
            set(c, "--blocks", "1");
            set(c, "--grid", "8");
            set(c, "--test-n", "16");
        }
    }
    if (is(c, 0, "sample")) {
        int i = find(c, "--n");
        if (i >= 0 && i + 1 < c->n && atoi(c->tok[i + 1]) > 8)
            set(c, "--n", "8");
        if (find(c, "--sampler") >= 0)
            set(c, "--n", "1");
        if (find(c, "--ddim-steps") >= 0 || find(c, "--progress") >= 0)
            set(c, "--ddim-steps", "3");
        if (find(c, "--langevin-steps") >= 0)
            set(c, "--langevin-steps", "3");
    }
    if (is(c, 0, "eval")) {
        int fid = find(c, "fid") >= 0, mmd = find(c, "mmd") >= 0, nll = find(c, "nll") >= 0;
        int kid = find(c, "kid") >= 0, is_ = find(c, "is") >= 0;
        if (fid || mmd || nll || kid || is_)
            set(c, "--n", "16");
        if (is_)
            set(c, "--splits", "2");
        if (nll)
            set(c, "--k", "4");
        if (find(c, "inception.safetensors") >= 0)
            set(c, "--n", "4");
    }
    if (is(c, 0, "bench") && is(c, 1, "step")) {
        set(c, "--warmup", "1");
        set(c, "--repeat", "1");
        set(c, "--no-torch", NULL);
        set(c, "--batch", "4");
        if (is(c, 2, "ddpm")) {
            set(c, "--ch", "8");
            if (find(c, "--sample-n") >= 0)
                set(c, "--sample-n", "2");
        }
        if (is(c, 2, "dcgan")) {
            set(c, "--ngf", "8");
            set(c, "--ndf", "8");
        }
        if (is(c, 2, "vae") || is(c, 2, "realnvp"))
            set(c, "--width", "4");
    }
    if (is(c, 0, "bench") && is(c, 1, "ops")) {
        set(c, "--no-torch", NULL);
        set(c, "--warmup", "0");
        set(c, "--repeat", "1");
        if (find(c, "--table") < 0)  /* the table's rows have their own sizes */
            set(c, "--batch", "2");
    }
    if (is(c, 0, "bench") && is(c, 1, "data")) {
        set(c, "--count", "64");
        set(c, "--jpegs", "4");
        set(c, "--repeat", "1");
        set(c, "--dir", ".");
    }
}

/* CelebA's 40 attribute names, in list_attr_celeba.txt's order */
static const char celeba_attrs[] =
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses "
    "Goatee Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache "
    "Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks "
    "Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young";

/* DIR/list_attr_celeba.txt for the ten images: attribute j of image i is 1
 * when (i + j) % 3 == 0 */
static int write_celeba_attrs(void)
{
    FILE *f = fopen("DIR/list_attr_celeba.txt", "w");
    if (!f)
        return 0;
    fprintf(f, "10\n%s\n", celeba_attrs);
    for (int i = 0; i < 10; i++) {
        fprintf(f, "%06d.jpg", i + 1);
        for (int j = 0; j < 40; j++)
            fprintf(f, " %2d", (i + j) % 3 == 0 ? 1 : -1);
        fprintf(f, "\n");
    }
    return fclose(f) == 0;
}

/* DIR/img_align_celeba: ten small JPEGs and their attributes; DIR/folder:
 * four PNG-free JPEGs an image folder reads; inception.safetensors */
static int make_inputs(void)
{
    if (system("mkdir -p DIR/img_align_celeba imgs") != 0 || !write_celeba_attrs())
        return 0;
    for (int i = 0; i < 10; i++) {
        uint8_t *px = fx_solid(3, 48, 40, 20 * i, 200 - 15 * i, 90);
        char name[32];
        snprintf(name, sizeof name, "%06d.jpg", i + 1);
        int ok = px && fx_jpeg("DIR/img_align_celeba", name, px, 3, 48, 40) &&
                 fx_jpeg("imgs", name, px, 3, 48, 40);
        free(px);
        if (!ok)
            return 0;
    }
    char err[256];
    return incfix_write("inception.safetensors", err, sizeof err) == CG_OK;
}

/* the same words as a command run before it */
static int repeated(const command *cmds, const int *order, int j)
{
    const command *c = &cmds[order[j]];
    for (int i = 0; i < j; i++) {
        const command *d = &cmds[order[i]];
        int same = d->n == c->n;
        for (int t = 0; same && t < c->n; t++)
            same = strcmp(d->tok[t], c->tok[t]) == 0;
        if (same)
            return 1;
    }
    return 0;
}

TEST(readme_commands_all_run)
{
    const char *bin = getenv("CUGEN_BIN");
    if (!bin)
        SKIP("CUGEN_BIN not set (run through make test)");
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist", &sb) != 0)
        SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");
    size_t len;
    char *text = (char *)th_read_file("README.md", &len);
    REQUIRE(text, "README.md not found (run from the repository root)");
    static command cmds[MAX_CMDS];
    int n = read_commands(text, cmds, MAX_CMDS);
    CHECK(n >= 40, "only %d commands found in README.md", n);
    for (int k = 0; k < n; k++)
        expand_ellipsis(&cmds[k], cmds, k);
    for (int k = 0; k < n; k++) {
        shorten(&cmds[k]);
        for (int i = 0; i < cmds[k].n; i++)
            if (strcmp(cmds[k].tok[i], "DIR") == 0 && i > 0 &&
                strcmp(cmds[k].tok[i - 1], "--data-dir") == 0) {
                free(cmds[k].tok[i]);
                cmds[k].tok[i] = strdup("imgs");
            }
    }
    char here[PATH_MAX], abs_bin[PATH_MAX];
    REQUIRE(getcwd(here, sizeof here) && realpath(bin, abs_bin), "cannot resolve %s", bin);
    char *dir = th_tmpdir();
    REQUIRE(dir && chdir(dir) == 0);
    setenv("CUGEN_BIN", abs_bin, 1);
    int made = make_inputs();
    CHECK(made, "the CelebA folder, image folder or Inception weights could not be made");
    /* prepare first: the training commands read its file */
    int order[MAX_CMDS], m = 0;
    for (int pass = 0; pass < 2 && made; pass++)
        for (int k = 0; k < n; k++)
            if (is(&cmds[k], 0, "prepare") == (pass == 0))
                order[m++] = k;
    int ran = 0, again = 0;
    for (int j = 0; j < m; j++) {
        command *c = &cmds[order[j]];
        if (repeated(cmds, order, j)) {   /* a later section quoting an earlier command */
            again++;
            continue;
        }
        const char *args[MAX_TOK + 1];
        for (int i = 0; i < c->n; i++)
            args[i] = c->tok[i];
        args[c->n] = NULL;
        th_run_result r;
        th_run_cugen(&r, args);
        char shown[1024] = "cugen";
        for (int i = 0; i < c->n; i++)
            snprintf(shown + strlen(shown), sizeof shown - strlen(shown), " %s", c->tok[i]);
        CHECK(r.code == 0, "README.md:%d: %s\n      exit %d: %.600s", c->line, shown, r.code,
              r.err);
        ran += r.code == 0;
    }
    printf("    %d of %d README commands ran (shortened), %d quoted twice\n", ran, m - again,
           again);
    setenv("CUGEN_BIN", bin, 1);
    CHECK(chdir(here) == 0);
    th_rmtree(dir);
    for (int k = 0; k < n; k++)
        for (int i = 0; i < cmds[k].n; i++)
            free(cmds[k].tok[i]);
}
