#!/bin/sh
# Checks that the directories of host/ depend on each other in one direction,
# by the #include "dir/..." lines of their .c and .h files (public headers,
# "cugen/...", are open to all). The layers, lowest first:
#
#   0 core                    tensor, arena, tape, rng, device memory
#   1 cpu                     the CPU reference of the ops
#   2 ops                     op front ends and dispatch
#   3 nn optim data io        layers, optimizers, data sets, files
#   4 models metrics
#   5 train                   the trainer and the run directory
#   6 cli                     the cugen command: may include anything
#
# Rules, each break reported as "file: #include line: why":
#   - a directory includes the private headers of its own directory or of a
#     lower layer, never of a higher one or of a sibling in its layer;
#   - models and train use only public headers from below: no private
#     header of core, cpu, ops, nn or optim (models' own helpers stay in
#     models, and train includes no private header of models either).
#
# Usage: scripts/check_layers.sh [ROOT]   (ROOT: the repository, default the
# one this script is in). Exit status 1 when a rule is broken, 2 when ROOT
# has no host/.
set -eu
root=${1:-$(dirname "$0")/..}
if [ ! -d "$root/host" ]; then
    echo "check_layers: no host/ in $root" >&2
    exit 2
fi
cd "$root"
find host -name '*.[ch]' | sort | xargs grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' |
awk '
BEGIN {
    rank["core"] = 0; rank["cpu"] = 1; rank["ops"] = 2
    rank["nn"] = 3; rank["optim"] = 3; rank["data"] = 3; rank["io"] = 3
    rank["models"] = 4; rank["metrics"] = 4; rank["train"] = 5; rank["cli"] = 6
    public_only["models"] = 1; public_only["train"] = 1
    bad = 0
}
{
    colon = index($0, ":")
    file = substr($0, 1, colon - 1)
    line = substr($0, colon + 1)
    split(file, p, "/")
    from = p[2]
    inc = line
    sub(/^[^"]*"/, "", inc)
    sub(/".*$/, "", inc)
    if (index(inc, "/") == 0)
        next
    to = substr(inc, 1, index(inc, "/") - 1)
    if (!(to in rank) || !(from in rank) || to == from || from == "cli")
        next
    why = ""
    if (rank[to] > rank[from])
        why = to " is above " from
    else if (rank[to] == rank[from])
        why = to " is beside " from ", not below it"
    else if (from in public_only)
        why = from " may include only public headers (cugen/...) from " to
    if (why != "") {
        gsub(/^[[:space:]]+|[[:space:]]+$/, "", line)
        printf "%s: %s: %s\n", file, line, why
        bad = 1
    }
}
END { exit bad }
' || { echo "check_layers: host/ breaks the layering (see scripts/check_layers.sh)" >&2; exit 1; }
