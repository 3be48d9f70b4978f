#!/bin/sh
# gpu-check.sh: cugen's first run on a GPU machine, in one call of at most
# 8 minutes: the driver and the versions, every GPU test, the benchmarks
# beside PyTorch at matched precision, and the GPU tests again under
# compute-sanitizer memcheck. Writes one markdown report, ready to paste
# into docs/gpu-results.md, and a tarball of every step's whole log.
#
#   sh scripts/gpu-check.sh [STEP...]
#
# Run from the repository root with gpu-bundle/ (make gpu-bundle) beside
# it; nothing is built. STEP names a step or the start of names ("bench"),
# default all; setup, smi, versions, libs and info always run. Each step runs under
# timeout, within one deadline for the whole run; a failed or timed-out step
# is recorded and the next one runs. Without a usable GPU (cugen info
# --require-gpu fails) the GPU steps are skipped, unless GPU_CHECK_FORCE=1.
#
# Output: $OUT/gpu-report.md and $OUT/gpu-check-logs.tar.gz ($OUT is the
# device tool's folder; gpu-check-out/ when unset). Settings:
# GPU_CHECK_BUDGET_S (470: seconds for everything), GPU_CHECK_SAN_RESERVE_S
# (120: kept for the sanitizer, the last step), GPU_BUNDLE (gpu-bundle),
# CUGEN_PYTHON (the python3 with PyTorch; default: the first that has it).
#
# Not for: building or a CPU machine. It writes to nothing outside $OUT
# and a temporary folder, except, as root and only where they are missing,
# /usr/share/datasets/fashion-mnist (a link into the bundle) and
# /usr/bin/python3 (a launcher of the PyTorch python3, which builds of
# `cugen bench step` older than $CUGEN_PYTHON run by that path); both are
# removed at the end.

T0=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET_S:-470}
SAN_RESERVE=${GPU_CHECK_SAN_RESERVE_S:-120}
DEADLINE=$((T0 + BUDGET))
B=${GPU_BUNDLE:-gpu-bundle}
OUTDIR=${OUT:-gpu-check-out}
WANT="$*"
mkdir -p "$OUTDIR" || exit 2
REPORT=$OUTDIR/gpu-report.md
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cugen-gpu-check.XXXXXX") || exit 2
LOGS=$WORK/logs
mkdir -p "$LOGS"
: > "$WORK/steps"       # name|result|seconds|command, one line per step
: > "$WORK/details"     # markdown: each step's command and output tail
CREATED=""              # paths made outside $WORK, removed at the end
NO_GPU=""
FAILED=0
TAIL=60                 # lines of each step's output in the report

cleanup() {
    for p in $CREATED; do rm -rf "$p"; done
    rm -rf "${B:?}/lib" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -d "$B/bin" ] || [ ! -f tests/run.sh ]; then
    echo "gpu-check: run from the repository root with $B/ (make gpu-bundle) beside it" >&2
    exit 2
fi

say() { printf '%s\n' "$*"; }
now() { date +%s; }

# wanted NAME: whether the command line asked for this step
wanted() {
    [ -z "$WANT" ] && return 0
    for w in $WANT; do
        case "$1" in "$w"*) return 0 ;; esac
    done
    return 1
}

# shown COMMAND: as the report shows it (no launcher prefix, short paths)
shown() {
    W="${BENCH_WRAP:-} " BD="${BIN:-/nonexistent}/" TD="$WORK/" C="$1" awk 'BEGIN {
        c = ENVIRON["C"]
        if (ENVIRON["W"] != " ") while ((i = index(c, ENVIRON["W"]))) c = substr(c, 1, i - 1) substr(c, i + length(ENVIRON["W"]))
        while ((i = index(c, ENVIRON["BD"]))) c = substr(c, 1, i - 1) "BIN/" substr(c, i + length(ENVIRON["BD"]))
        while ((i = index(c, ENVIRON["TD"]))) c = substr(c, 1, i - 1) "TMP/" substr(c, i + length(ENVIRON["TD"]))
        gsub(/  +/, " ", c); sub(/^ /, "", c); sub(/ $/, "", c); print c}'
}

# record NAME RESULT SECONDS COMMAND [LOG]: a row of the table and a section
record() {
    c=$(shown "$4")
    printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$c" >> "$WORK/steps"
    say "gpu-check: $1: $2 ($3 s)"
    {
        printf '\n### %s: %s (%s s)\n\n' "$1" "$2" "$3"
        printf '`%s`\n\n' "$c"
        if [ -n "${5:-}" ] && [ -s "$5" ]; then
            n=$(wc -l < "$5")
            [ "$n" -gt "$TAIL" ] && printf '(last %s of %s lines)\n\n' "$TAIL" "$n"
            printf '```\n'
            tail -n "$TAIL" "$5" | cut -c1-300
            printf '```\n'
        fi
    } >> "$WORK/details"
}

# step NAME LIMIT_S COMMAND: runs COMMAND (a shell string) under timeout,
# within the deadline (less the sanitizer's reserve until it runs)
step() {
    name=$1 limit=$2 cmd=$3
    case $name in bench-ops*) TAIL=150 ;; *) TAIL=60 ;; esac
    log=$LOGS/$name.log
    case $name in smi|versions|libs|info) ;; *) wanted "$name" || return 0 ;; esac
    if [ -n "$NO_GPU" ]; then
        record "$name" "skipped ($NO_GPU)" 0 "$cmd"
        return 0
    fi
    left=$((DEADLINE - $(now)))
    case $name in smi|versions|libs|info|sanitizer) ;; *) left=$((left - SAN_RESERVE)) ;; esac
    if [ "$left" -lt 10 ]; then
        record "$name" "skipped (out of time)" 0 "$cmd"
        return 0
    fi
    t=$limit
    [ "$t" -gt "$left" ] && t=$left
    say "gpu-check: $name (at most $t s): $cmd"
    s=$(date +%s.%N)
    timeout -k 10 "$t" sh -c "$cmd" > "$log" 2>&1 < /dev/null
    rc=$?
    secs=$(awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
    case $rc in
        0) res=pass ;;
        124|137) res="TIMEOUT after $t s"; FAILED=1 ;;
        *) res="FAIL (exit $rc)"; FAILED=1 ;;
    esac
    record "$name" "$res" "$secs" "$cmd" "$log"
    return $rc
}

# ---- setup: unpack, find the libraries, the data, PyTorch's python3 ----------
setup_log=$LOGS/setup.log
{
    s=$(now)
    echo "bundle: $B ($(sed -n 's/^source: //p' "$B/MANIFEST" 2>/dev/null), staged $(sed -n '1s/.*staged \([^ ]*\).*/\1/p' "$B/MANIFEST" 2>/dev/null))"
    if (cd "$B" && sha256sum -c --quiet SHA256SUMS); then echo "bundle: every file matches SHA256SUMS"
    else echo "bundle: SHA256SUMS does not match (above)"; fi
    rm -rf "${B:?}/lib"
    mkdir -p "$B/lib"
    for p in "$B"/pack/*.gz; do
        [ -e "$p" ] || continue
        so=$(basename "$p" .gz)
        gzip -dc "$p" > "$B/lib/$so" && echo "unpacked $so" || echo "could not unpack $p"
    done

    # PyTorch's python3: $CUGEN_PYTHON, else the first with torch
    TORCH_PY=${CUGEN_PYTHON:-}
    if [ -z "$TORCH_PY" ]; then
        for p in $(command -v python3) /opt/torch/.venv/bin/python3 /usr/bin/python3 /usr/local/bin/python3; do
            [ -x "$p" ] && "$p" -c 'import torch' 2>/dev/null && { TORCH_PY=$p; break; }
        done
    fi
    echo "PyTorch's python3: ${TORCH_PY:-none found}"

    # cuDNN: pip's (nvidia-cudnn-cu13 beside PyTorch) on LD_LIBRARY_PATH
    CUDNN_DIR=""
    for p in "$TORCH_PY" python3 /usr/bin/python3; do
        [ -n "$p" ] || continue
        d=$("$p" -c 'import os, nvidia.cudnn as m; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null) || continue
        [ -e "$d/libcudnn.so.9" ] && { CUDNN_DIR=$d; break; }
    done
    if [ -z "$CUDNN_DIR" ]; then
        for d in /opt/*/.venv/lib/python3*/site-packages/nvidia/cudnn/lib \
                 /opt/*/lib/python3*/site-packages/nvidia/cudnn/lib \
                 /usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib \
                 /usr/local/lib/python3*/site-packages/nvidia/cudnn/lib \
                 /usr/lib/python3/dist-packages/nvidia/cudnn/lib \
                 /root/.local/lib/python3*/site-packages/nvidia/cudnn/lib; do
            [ -e "$d/libcudnn.so.9" ] && { CUDNN_DIR=$d; break; }
        done
    fi
    echo "cuDNN: ${CUDNN_DIR:-no pip cuDNN found, so the system one if any}"
    echo "$TORCH_PY" > "$WORK/torch_py"
    echo "$CUDNN_DIR" > "$WORK/cudnn_dir"
    echo "setup took $(( $(now) - s )) s"
} > "$setup_log" 2>&1
TORCH_PY=$(cat "$WORK/torch_py")
CUDNN_DIR=$(cat "$WORK/cudnn_dir")
ORIG_LDLP=${LD_LIBRARY_PATH-}
[ -n "$CUDNN_DIR" ] && export LD_LIBRARY_PATH="$CUDNN_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A library still not found (the toolkit elsewhere than /usr/local/cuda):
# look beside PyTorch (pip's nvidia/*/lib, nvidia/cu13/lib) and in the toolkits
LDD="ldd"
command -v ldd > /dev/null || LDD="/lib64/ld-linux-x86-64.so.2 --list"
for so in $(for f in "$B"/bin/*; do $LDD "$f" 2>/dev/null; done | awk '$3 == "not" {print $1}' | sort -u); do
    for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/local/cuda*/targets/x86_64-linux/lib \
             /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib \
             /usr/local/lib/python3*/dist-packages/nvidia/*/lib; do
        if [ -e "$d/$so" ]; then
            export LD_LIBRARY_PATH="$LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:}$d"
            echo "$so: found in $d (added to LD_LIBRARY_PATH)" >> "$setup_log"
            break
        fi
    done
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >> "$setup_log"

# PyTorch for the benchmarks: the bench commands run $CUGEN_PYTHON (else
# python3) on the GPU; older builds' `bench step` ran /usr/bin/python3. $CUGEN_PYTHON
# becomes a launcher of PyTorch's python3 in the environment it was started
# with; /usr/bin/python3, if it lacks torch, is made to find it: the same
# interpreter gets the site-packages on PYTHONPATH; a missing one is that
# launcher for this run; another one has the launcher bound over it inside
# the bench commands' own mount namespace (unshare -m).
TORCH_NOTE="no python3 with PyTorch: the benchmarks print no PyTorch side"
BENCH_WRAP=""
if [ -n "$TORCH_PY" ]; then
    {
        echo '#!/bin/sh'
        if [ -n "$ORIG_LDLP" ]; then echo "export LD_LIBRARY_PATH='$ORIG_LDLP'"; else echo 'unset LD_LIBRARY_PATH'; fi
        echo "exec '$TORCH_PY' \"\$@\""
    } > "$WORK/torch-python"
    chmod +x "$WORK/torch-python"
    export CUGEN_PYTHON="$WORK/torch-python"
    site=$("$CUGEN_PYTHON" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        TORCH_NOTE="/usr/bin/python3 has PyTorch"
    elif [ -e /usr/bin/python3 ] && [ "$(readlink -f "$TORCH_PY")" = "$(readlink -f /usr/bin/python3)" ] &&
         PYTHONPATH="$site" /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        BENCH_WRAP="env PYTHONPATH='$site'"
        TORCH_NOTE="/usr/bin/python3 is the interpreter of $TORCH_PY: bench commands run with PYTHONPATH=$site"
    elif [ ! -e /usr/bin/python3 ] && [ "$(id -u)" = 0 ] && cp "$WORK/torch-python" /usr/bin/python3 2>/dev/null; then
        CREATED="$CREATED /usr/bin/python3"
        TORCH_NOTE="/usr/bin/python3: a launcher of $TORCH_PY, for this run"
    elif [ "$(id -u)" = 0 ] && command -v unshare > /dev/null &&
         [ "$(readlink -f "$TORCH_PY")" != "$(readlink -f /usr/bin/python3)" ] &&
         unshare -m sh -c "mount --bind '$WORK/torch-python' /usr/bin/python3 && /usr/bin/python3 -c 'import torch'" 2>/dev/null; then
        BENCH_WRAP="unshare -m sh -c \"mount --bind '$WORK/torch-python' /usr/bin/python3 && exec \\\"\\\$@\\\"\" sh"
        TORCH_NOTE="/usr/bin/python3 lacks PyTorch: bench commands run with a launcher of $TORCH_PY bound over it (unshare -m)"
    else
        TORCH_NOTE="/usr/bin/python3 lacks PyTorch and cannot be made to find it: bench step and inception print no PyTorch side"
    fi
    sh -c "$BENCH_WRAP /usr/bin/python3 -c 'import torch; print(\"bench step runs /usr/bin/python3: torch\", torch.__version__, \"from\", torch.__file__)'" \
        >> "$setup_log" 2>&1 || echo "bench step's /usr/bin/python3 cannot import torch" >> "$setup_log"
fi
echo "PyTorch for the benchmarks: $TORCH_NOTE" >> "$setup_log"

# Fashion-MNIST where the GPU tests that train on it look for it
FM=/usr/share/datasets/fashion-mnist
if [ ! -e "$FM" ] && [ -d "$B/data/fashion-mnist" ]; then
    if mkdir -p /usr/share/datasets 2>/dev/null && ln -s "$(cd "$B/data/fashion-mnist" && pwd)" "$FM" 2>/dev/null; then
        CREATED="$CREATED $FM"
        echo "Fashion-MNIST: $FM -> the bundle's copy, for this run" >> "$setup_log"
    else
        echo "Fashion-MNIST: cannot make $FM (not root?): the GPU tests that train on it will skip or fail" >> "$setup_log"
    fi
else
    echo "Fashion-MNIST: $FM $( [ -e "$FM" ] && echo present || echo 'missing, and not in the bundle')" >> "$setup_log"
fi
res=pass
grep -q -e 'does not match' -e 'could not unpack' "$setup_log" && { res=FAIL; FAILED=1; }
record setup "$res" "$(( $(now) - T0 ))" "unpack $B/pack, find cuDNN and PyTorch" "$setup_log"

BIN=$(cd "$B/bin" && pwd)
CUGEN=$BIN/cugen
SMI=$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi /usr/bin/nvidia-smi 2>/dev/null | head -n 1)
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
      /usr/local/cuda/compute-sanitizer/compute-sanitizer /opt/nvidia/*/compute-sanitizer/compute-sanitizer \
      2>/dev/null | head -n 1)
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null | head -n 1)

# ---- the machine ---------------------------------------------------------------
step smi 20 "${SMI:-nvidia-smi} && echo 'name, driver, memory, compute capability, max SM clock, max memory clock, power limit:' && \
${SMI:-nvidia-smi} --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm,clocks.max.mem,power.limit --format=csv,noheader"
step versions 60 "uname -r; grep -m1 'model name' /proc/cpuinfo; nproc; sed -n 1,5p $B/MANIFEST; ${NVCC:-nvcc} --version | tail -n 2; ${SAN:-compute-sanitizer} --version | head -n 2; \
'${CUGEN_PYTHON:-python3}' -c 'import sys, torch; print(\"python\", sys.version.split()[0], \"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"cudnn\", torch.backends.cudnn.version()); import torchvision; print(\"torchvision\", torchvision.__version__); print(\"device\", torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"none\")'; true"
step libs 20 "for f in $BIN/cugen $BIN/test_unit; do echo \"== \$f\"; $LDD \$f; done > $WORK/ldd.txt 2>&1; \
cat $WORK/ldd.txt; ! grep -q 'not found' $WORK/ldd.txt"
if ! step info 30 "$CUGEN info --require-gpu" && [ "${GPU_CHECK_FORCE:-0}" != 1 ]; then
    NO_GPU="no usable GPU: cugen info --require-gpu failed"
fi

# ---- tests ---------------------------------------------------------------------
step tests 170 "CUGEN_REQUIRE_GPU=1 CUGEN_BIN=$CUGEN sh tests/run.sh '$BIN/test_unit gpu'"

# ---- benchmarks ----------------------------------------------------------------
# Precision, the same on both sides: a binary whose bench commands take
# --precision runs each benchmark at fp32 and at tf32 (--precision both),
# telling PyTorch's script the same; the script states what it ran at and
# cugen prints no ratio when the two differ. An older binary runs fp32 only,
# held there on both sides by NVIDIA_TF32_OVERRIDE=0 (cuBLAS and cuDNN then
# use no TF32), and ops once more with --tf32.
# prec ARGS...: "--precision both" when `cugen ARGS --help` lists --precision
prec() {
    timeout 10 "$CUGEN" "$@" --help 2>&1 | grep -q -- '--precision' && echo "--precision both"
}
# run PRECISION_FLAG: how a bench command starts
run() { if [ -n "$1" ]; then echo "$BENCH_WRAP $CUGEN"; else echo "NVIDIA_TF32_OVERRIDE=0 $BENCH_WRAP $CUGEN"; fi; }
# torch ARGS...: "--torch" for a binary whose ARGS take it (older ones: PyTorch
# was asked for; newer ones run it unless --no-torch)
torch() {
    timeout 10 "$CUGEN" "$@" --help 2>&1 | grep -q -- '--no-torch' || echo "--torch"
}
p=$(prec bench ops)
step bench-ops 150 "$(run "$p") bench ops --device cuda $(torch bench ops) $p"
[ -z "$p" ] && step bench-ops-tf32 75 "$BENCH_WRAP $CUGEN bench ops --device cuda --torch --tf32"
p=$(prec bench step dcgan)
step bench-dcgan64 90 "$(run "$p") bench step dcgan --device cuda $p"
step bench-dcgan32 60 "$(run "$p") bench step dcgan --device cuda --image-size 32 --ngf 32 --ndf 32 --batch 64 $p"
p=$(prec bench step ddpm)
step bench-ddpm 100 "$(run "$p") bench step ddpm --device cuda --ch 32 --ch-mult 1,2,2 --num-res-blocks 1 --batch 16 --repeat 20 --warmup 3 --sample-n 64 $p"
step bench-ddpm-cifar 150 "$(run "$p") bench step ddpm --device cuda --ch 128 --ch-mult 1,2,2,2 --num-res-blocks 2 --batch 128 --repeat 20 --warmup 3 $p"
p=$(prec bench step vae)
step bench-vae-conv 50 "$(run "$p") bench step vae --arch conv --device cuda $p"
step bench-vae-mlp 50 "$(run "$p") bench step vae --arch mlp --device cuda $p"
p=$(prec bench step realnvp)
step bench-realnvp 70 "$(run "$p") bench step realnvp --device cuda --batch 64 $p"
# the FID network with scripts/make_inception_ref.py's hash weights, made
# here (95 MB: too large to carry), the same weights on both sides
p=$(prec bench inception)
step bench-inception 120 "'${CUGEN_PYTHON:-python3}' scripts/make_inception_ref.py --weights $WORK/inception.safetensors && \
$(run "$p") bench inception --net $WORK/inception.safetensors --device cuda $(torch bench inception) --n 512 --batch 128 $p"

# ---- compute-sanitizer ---------------------------------------------------------
[ -z "$SAN" ] && [ -z "$NO_GPU" ] && wanted sanitizer && NO_GPU="compute-sanitizer not found"
step sanitizer 300 "CUGEN_REQUIRE_GPU=1 CUGEN_BIN=$CUGEN sh tests/run.sh \
'${SAN:-compute-sanitizer} --tool memcheck --report-api-errors no --error-exitcode 1 --target-processes all $BIN/test_unit gpu'"

# ---- the report ----------------------------------------------------------------
# progress LOG: how far a test run got (the harness prints each test's name)
progress() {
    awk '/^[a-z][a-z0-9_]*$/ {n++; last = $0} /^  FAILED / {f = f (f ? ", " : "") $2}
         /ERROR SUMMARY: [1-9]/ {e++}
         END {printf "%d tests started, the last %s; failed: %s", n, last ? last : "-", f ? f : "none"
              if (e) printf "; processes with memcheck errors: %d", e}' "$1"
}
q=$(sed -n '/^name, driver, memory/{n;p;q;}' "$LOGS/smi.log" 2>/dev/null)
gpu=$(echo "$q" | awk -F', ' '{print $1}')
driver=$(echo "$q" | awk -F', ' '{print $2}')
cuda=$(sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' "$LOGS/smi.log" 2>/dev/null | head -n 1)
{
    echo "## $(date -u +%Y-%m-%d), ${gpu:-no GPU found} (driver ${driver:-?}, CUDA ${cuda:-?}): scripts/gpu-check.sh"
    echo
    echo "Bundle $(sed -n 's/^source: //p' "$B/MANIFEST" 2>/dev/null) ($(sed -n '3s/^build: //p' "$B/MANIFEST" 2>/dev/null))."
    echo "PyTorch's python3: ${TORCH_PY:-none found}; pip's cuDNN: ${CUDNN_DIR:-none found}."
    echo "PyTorch in the benchmarks: $TORCH_NOTE (the commands below leave that out; BIN is $B/bin, TMP a temporary folder)."
    for s in tests sanitizer; do
        [ -s "$LOGS/$s.log" ] || continue
        sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$LOGS/$s.log" | tail -n 1)
        [ $s = tests ] && what="GPU tests" || what="GPU tests under compute-sanitizer memcheck"
        echo "$what: ${sum:-no summary (stopped)}; $(progress "$LOGS/$s.log")."
    done
    echo "Run time $(( $(now) - T0 )) s of a $BUDGET s budget."
    echo
    echo "| step | result | s | command |"
    echo "|---|---|---|---|"
    awk -F'|' '{c = $4; if (length(c) > 120) c = substr(c, 1, 117) "..."; gsub(/\|/, "\\|", c);
                printf "| %s | %s | %s | `%s` |\n", $1, $2, $3, c}' "$WORK/steps"
    echo
    echo "### Benchmarks: img/s of the median step (fp32: no TF32 on either side)"
    echo
    echo "| benchmark | precision | cugen img/s | PyTorch img/s | cugen / PyTorch |"
    echo "|---|---|---|---|---|"
    for n in $(cut -d'|' -f1 "$WORK/steps"); do
        case $n in bench-ops*|*-tf32) continue ;; bench-*) ;; *) continue ;; esac
        [ -e "$LOGS/$n.log" ] || continue
        awk -v n="${n#bench-}" '
            function emit() {
                if (!seen) return
                r = (c + 0 > 0 && t + 0 > 0) ? sprintf("%.2f", c / t) : "-"
                printf "| %s | %s | %s | %s | %s |\n", n, p, c != "" ? c : "-", t != "" ? t : "-", r
                seen = 0; any = 1
            }
            /^cugen bench / {emit(); seen = 1; c = ""; t = ""; p = /TF32 allowed/ ? "tf32" : "fp32"}
            /^cugen: +step_ms/ && c == "" {for (i = 1; i < NF; i++) if ($i == "img_per_s") c = $(i + 1)}
            /^cugen: .*img\/s/ && c == "" {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^img\/s/) c = $i}
            /^PyTorch: +step_ms/ && t == "" {for (i = 1; i < NF; i++) if ($i == "img_per_s") t = $(i + 1)}
            /^PyTorch: (not measured|no ratio)/ && t == "" {t = substr($0, 10, 70); gsub(/\|/, "/", t)}
            END {emit(); if (!any) printf "| %s | - | - | - | no result (its section below) |\n", n}' "$LOGS/$n.log"
    done
    echo
    echo "The per-layer tables of \`bench ops\` and every step's output tail follow."
    cat "$WORK/details"
} > "$REPORT"

tar -C "$WORK" -czf "$OUTDIR/gpu-check-logs.tar.gz" logs 2>/dev/null
echo
sed -n '1,/^### Benchmarks/p' "$REPORT" | sed '$d'
sed -n '/^| benchmark |/,/^$/p' "$REPORT"
echo "gpu-check: report $REPORT, logs $OUTDIR/gpu-check-logs.tar.gz"
exit $FAILED
