#!/usr/bin/env bash
# Run bench/robustness.py side by side on one big machine (a lent GPU box): one process per
# (cell, seed), each with a share of the cores, all appending to one results file. A small
# encoder leaves a GPU mostly idle between kernels, so 10-20 runs at once finish in about
# the time of one (16 runs of 10,000 SST-2 sentences took 90-180 s each on an H200).
#
# Usage: bench/parallel_cells.sh RESULTS CELLS SEEDS RECIPE [--set KEY=VALUE ...] [--no-baselines]
#   e.g. bench/parallel_cells.sh $OUT/r.jsonl synth-mc-2000,synth-ml-2000 0-4 batch-16@h200 --set batch_size=16
# Environment: TIMEOUT (seconds per run, default 600), TEXTCLF_BENCH_THREADS (default 1).
set -u
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
results=$1 cells=$2 seeds=$3 recipe=$4
shift 4
export TEXTCLF_BENCH_THREADS=${TEXTCLF_BENCH_THREADS:-1} OMP_NUM_THREADS=${TEXTCLF_BENCH_THREADS:-1}
here=$(dirname "$0")
logs=$(mktemp -d)
expand() { case $1 in *-*) seq "${1%-*}" "${1#*-}" ;; *) echo "$1" ;; esac; }
for cell in ${cells//,/ }; do
    for part in ${seeds//,/ }; do
        for seed in $(expand "$part"); do
            ( timeout "${TIMEOUT:-600}" python3 "$here/robustness.py" --results "$results" \
                --cells "$cell" --seeds "$seed" --recipe "$recipe" "$@" >"$logs/$cell-$seed.log" 2>&1
              echo "$cell seed $seed: exit $?" ) &
        done
    done
done
wait
grep -h "seed [0-9]*: model" "$logs"/*.log 2>/dev/null
echo "logs: $logs"
