#!/bin/sh
# compare_gans.sh: the 32x32 DCGAN's variants on Fashion-MNIST, each trained
# for the same wall-clock budget, side by side (all four at once, one thread
# each, so that they share the machine alike), then FMNIST-FID and KID of
# 10,000 generated images against the test set, and each run's sample grid.
#
#   sh scripts/compare_gans.sh MINUTES NET OUT [CUGEN]
# NET: the run of `cugen train classifier` (the FMNIST feature network);
# OUT: a new folder for the runs; CUGEN: the binary (default build/cugen).
# Prints a Markdown table; the grids are OUT/VARIANT/samples.png.
set -eu
[ $# -ge 3 ] || { echo "usage: sh scripts/compare_gans.sh MINUTES NET OUT [CUGEN]" >&2; exit 2; }
minutes=$1 net=$2 out=$3 cugen=${4:-build/cugen}
[ -e "$net" ] || { echo "compare_gans.sh: no feature network at $net" >&2; exit 2; }
[ ! -e "$out" ] || { echo "compare_gans.sh: $out exists; give a new folder" >&2; exit 2; }
mkdir -p "$out"
common="--data fashion-mnist --image-size 32 --ngf 32 --ndf 32 --batch 64 --epochs 100
        --max-minutes $minutes --log-every 200"
variants="bce hinge-sn wgan-gp conditional"
flags() {
    case $1 in
    bce) echo "--loss bce" ;;
    hinge-sn) echo "--loss hinge --spectral-norm" ;;
    wgan-gp) echo "--loss wgan-gp" ;;
    conditional) echo "--loss bce --conditional" ;;
    esac
}
for v in $variants; do
    # shellcheck disable=SC2046,SC2086
    OPENBLAS_NUM_THREADS=1 "$cugen" train dcgan $common $(flags $v) --out "$out/$v" \
        >"$out/$v.log" 2>&1 &
done
wait
echo "| variant | flags | steps in ${minutes} min | img/s | FMNIST-FID | FMNIST-KID |"
echo "|---|---|---|---|---|---|"
for v in $variants; do
    steps=$(sed -n 's/.*"steps": \([0-9]*\).*/\1/p' "$out/$v/result.json")
    rate=$(sed -n 's/.*"img_per_s": \([0-9.]*\).*/\1/p' "$out/$v/result.json")
    fid=$("$cugen" eval --metric fid --real fashion-mnist:test --fake "$out/$v" --net "$net" \
          --n 10000 2>/dev/null | awk '$1 == "FMNIST-FID" {print $2}')
    kid=$("$cugen" eval --metric kid --real fashion-mnist:test --fake "$out/$v" --net "$net" \
          --n 10000 2>/dev/null | awk '$1 == "FMNIST-KID" {print $2 " ± " $4}')
    echo "| $v | \`$(flags $v)\` | $steps | $rate | $fid | $kid |"
done
