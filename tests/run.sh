#!/bin/sh
# Runs each test command given as an argument, shows its output, and adds up
# the "N passed, N failed, N skipped" lines into one final line. A command that
# dies without its summary counts as one failure.
total_p=0; total_f=0; total_s=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
for cmd in "$@"; do
    echo "== $cmd"
    $cmd 2>&1 | tee "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "  FAILED: $cmd ended without a summary"
        total_f=$((total_f + 1))
        continue
    fi
    set -- $line
    total_p=$((total_p + $1)); total_f=$((total_f + $3)); total_s=$((total_s + $5))
done
echo "$total_p passed, $total_f failed, $total_s skipped"
[ "$total_f" -eq 0 ]
