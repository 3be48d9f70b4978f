#!/bin/sh
# Installs what cugen needs to build and test, from Debian's packages:
# a C compiler and make, OpenBLAS (CPU GEMM), zlib (gzipped IDX, CRC32),
# libjpeg-turbo and libpng (images), clang's libFuzzer runtime (make fuzz),
# OpenMPI (data-parallel training under mpirun),
# and Fashion-MNIST (the dataset most models train on without a download).
# The CUDA toolkit (nvcc, cuBLAS, cuDNN) is optional: without nvcc the build is
# CPU-only. Runs apt-get as root, or through sudo.
# `install-deps.sh bundle` also installs what make gpu-bundle and
# gpu-bundle-check use: patchelf (the bundle's RUNPATHs), debootstrap (the
# minimal root the check resolves libraries in).
set -eu
PKGS="build-essential libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev clang libclang-rt-14-dev openmpi-bin libopenmpi-dev dataset-fashion-mnist"
[ "${1:-}" = bundle ] && PKGS="$PKGS patchelf debootstrap"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all present ($PKGS)"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
