#!/bin/sh
# gpu-bundle-check.sh: shows, before it travels, that gpu-bundle/ runs on a
# machine that has only what the GPU machine is promised to have. In a
# minimal Debian root (debootstrap --variant=minbase: glibc, libstdc++,
# libgcc_s and little else; no OpenBLAS, libpng, libjpeg, python), with the
# CUDA libraries where that machine keeps them (this toolkit's libcudart,
# libcublas, libcublasLt bound into /usr/local/cuda/lib64; its cuDNN 9
# libraries bound under a virtual environment's site-packages/nvidia/cudnn/lib,
# as pip installs them; no driver):
#
#   1. every library the two binaries need resolves inside the bundle or to
#      glibc, libstdc++, libgcc_s or those CUDA libraries; any other, or one
#      not found, is listed and fails the check;
#   2. CPU tests that use each bundled library pass there (OpenBLAS: gemm,
#      zlib: gzipped IDX, libpng and libjpeg: png, imagefolder), and
#      `cugen info` runs;
#   3. scripts/gpu-check.sh, run there as on the GPU machine, finds cuDNN
#      without python, resolves every library, and stops cleanly at
#      `cugen info --require-gpu` (no GPU), with its report written.
#
#   sh scripts/gpu-bundle-check.sh [BUNDLE]      (as root; make gpu-bundle-check)
#
# The root is made once and kept in $GPU_CHECK_ROOT (default
# /tmp/cugen-minroot-$SUITE: about 30 s and 210 MB); SUITE (bookworm) and
# MIRROR (http://deb.debian.org/debian) choose another; DEBOOTSTRAP_OPTS
# passes more options (a --keyring for another distribution's archive).
# Everything is mounted in a private mount namespace (unshare -m) and the
# copies in the root are removed at the end. Not for: a GPU (see
# scripts/gpu-check.sh), or proving the CUDA libraries' own versions match.
set -u
B=${1:-gpu-bundle}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
R=${GPU_CHECK_ROOT:-/tmp/cugen-minroot-$SUITE}
CUDA_LIB=${CUDA_LIB:-/usr/local/cuda/lib64}
VENV_LIB=opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib

die() { echo "gpu-bundle-check: $*" >&2; exit 2; }
case $R in /*/*) ;; *) die "GPU_CHECK_ROOT must be a folder two levels down or more, not '$R'" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
[ -x "$B/bin/cugen" ] && [ -d "$B/pack" ] || die "no $B/bin/cugen: make gpu-bundle first"
for c in debootstrap unshare chroot git; do
    command -v $c > /dev/null || die "needs $c (apt-get install debootstrap util-linux coreutils git)"
done
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9; do
    [ -e "$CUDA_LIB/$so" ] || die "no $CUDA_LIB/$so (CUDA_LIB=DIR: the toolkit's libraries and cuDNN)"
done

if [ ! -x "$R/usr/bin/ldd" ]; then
    echo "gpu-bundle-check: making the minimal root $R ($SUITE from $MIRROR)"
    rm -rf "$R"
    # shellcheck disable=SC2086
    debootstrap --variant=minbase ${DEBOOTSTRAP_OPTS:-} "$SUITE" "$R" "$MIRROR" > "$R.log" 2>&1 ||
        { tail -n 20 "$R.log"; die "debootstrap failed (log: $R.log)"; }
fi
echo "gpu-bundle-check: root $R: $(. "$R/etc/os-release" && echo "$PRETTY_NAME"), $(chroot "$R" ldd --version | head -n 1)"

# The working tree as a device call copies it (tracked and untracked files
# that git does not ignore), and the bundle, into /repo; the fake CUDA places.
rm -rf "$R/repo" "$R/out" "$R/usr/local/cuda" "$R/opt/torch"
mkdir -p "$R/repo" "$R/out" "$R/usr/local/cuda/lib64" "$R/$VENV_LIB"
git ls-files -z -co --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf - | tar -C "$R/repo" -xf - || die "could not copy the working tree"
mkdir -p "$R/repo/$B" && cp -a "$B/." "$R/repo/$B/"
rm -rf "$R/repo/$B/lib"
CUDNN=$(cd "$CUDA_LIB" && ls libcudnn*.so.9)
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do : > "$R/usr/local/cuda/lib64/$so"; done
for so in $CUDNN; do : > "$R/$VENV_LIB/$so"; done

# Inside the root: unpack as gpu-check.sh does, resolve, classify, run.
cat > "$R/repo/bundle-check-inside.sh" <<'EOF'
set -u
cd /repo
B=$1 VENV_LIB=$2
fail=0
mkdir -p "$B/lib"
for p in "$B"/pack/*.gz; do gzip -dc "$p" > "$B/lib/$(basename "$p" .gz)"; done
export LD_LIBRARY_PATH=/$VENV_LIB
echo "== 1. libraries (LD_LIBRARY_PATH=/$VENV_LIB, as gpu-check.sh sets it)"
for f in "$B/bin/cugen" "$B/bin/test_unit"; do
    echo "-- $f"
    ldd "$f" | awk -v b="/repo/$B/" '
        / => not found/ {printf "   MISSING   %s\n", $1; bad = 1; next}
        $2 != "=>" {next}
        {so = $1; p = $3; sub(/\/bin\/\.\.\//, "/", p)}
        index(p, b) == 1 {printf "   bundle    %-20s %s\n", so, p; next}
        so ~ /^lib(cudart|cublas|cublasLt)\.so/ && p ~ /^\/usr\/local\/cuda\/lib64\// {printf "   toolkit   %-20s %s\n", so, p; next}
        so ~ /^libcudnn\.so/ && p ~ /\/site-packages\/nvidia\/cudnn\/lib\// {printf "   pip       %-20s %s\n", so, p; next}
        so ~ /^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s)\.so/ && p ~ /^\/(usr\/)?lib(64|\/x86_64-linux-gnu)?\// {printf "   base      %-20s %s\n", so, p; next}
        {printf "   NOT ON THE GPU MACHINE %s %s\n", so, p; bad = 1}
        END {exit bad}' || fail=1
done
echo "== 2. CPU tests that use the bundled libraries, and cugen info"
"$B/bin/test_unit" gemm idx_raw_and_gzip png_read imagefolder_png_colour_types_and_jpegs > /tmp/cpu-tests.log 2>&1
sed 's/^/   /' /tmp/cpu-tests.log
grep -q -E '^[1-9][0-9]* passed, 0 failed' /tmp/cpu-tests.log || { echo "   the CPU tests failed"; fail=1; }
"$B/bin/cugen" info > /tmp/info.log 2>&1; rc=$?
sed 's/^/   /' /tmp/info.log
echo "   cugen info: exit $rc"
[ $rc -eq 0 ] || fail=1
rm -rf "$B/lib"
echo "== 3. scripts/gpu-check.sh (expected: stops at cugen info --require-gpu)"
unset LD_LIBRARY_PATH
OUT=/out GPU_CHECK_BUDGET_S=300 timeout 400 sh scripts/gpu-check.sh > /out/run.log 2>&1
echo "   exit $? (1 expected: steps failed)"
sed -n '/^| step |/,/^$/p' /out/gpu-report.md
grep -q '^| libs | pass' /out/gpu-report.md || { echo "   its libs step did not pass"; fail=1; }
grep -q '^| info | FAIL' /out/gpu-report.md || { echo "   its info step did not fail as it should here"; fail=1; }
grep -q '^| tests | skipped (no usable GPU' /out/gpu-report.md || { echo "   it did not skip the GPU steps"; fail=1; }
grep -q 'cudnn/lib' /out/gpu-report.md || { echo "   it did not find pip's cuDNN"; fail=1; }
[ -d "$B/lib" ] && { echo "   it left $B/lib behind"; fail=1; }
exit $fail
EOF

unshare -m sh -c '
    R=$1 CUDA_LIB=$2 B=$3 VENV_LIB=$4
    mount --bind /proc "$R/proc" || exit 3
    for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
        mount --bind "$CUDA_LIB/$so" "$R/usr/local/cuda/lib64/$so" || exit 3
    done
    for so in $5; do mount --bind "$CUDA_LIB/$so" "$R/$VENV_LIB/$so" || exit 3; done
    chroot "$R" sh /repo/bundle-check-inside.sh "$B" "$VENV_LIB"
' sh "$R" "$CUDA_LIB" "$B" "$VENV_LIB" "$CUDNN"
rc=$?
mkdir -p gpu-check-out
cp "$R/out/gpu-report.md" gpu-check-out/bundle-check-report.md 2>/dev/null
rm -rf "$R/repo" "$R/out" "$R/usr/local/cuda" "$R/opt/torch"
case $rc in
    0) echo "gpu-bundle-check: OK: $B is self-contained for a machine with glibc, libstdc++, libgcc_s, the CUDA toolkit and pip's cuDNN" ;;
    3) echo "gpu-bundle-check: could not mount in a private namespace (unshare -m; needs CAP_SYS_ADMIN)"; exit 2 ;;
    *) echo "gpu-bundle-check: FAILED (above); gpu-check.sh's report from the root: gpu-check-out/bundle-check-report.md"; exit 1 ;;
esac
