#!/usr/bin/env bash
# Rounds of engine-bench beside its PyTorch twin, the protocol of docs/engine.md § Speed:
#
#   Sources/engine-bench/beside_pytorch.sh OUTDIR [ROUNDS]
#   python3 Sources/engine-bench/speed_bars.py OUTDIR     # the bars, round by round
#
# Each round: the twin's whole suite in fp32, then engine-bench's with the twin's figures
# (ratios), then both again in bf16; best of 3 per phase, 2 threads, the workloads in the
# same order on both sides. One process per side and precision runs every workload, as a
# user's run would: a phase that is the first thing a fresh PyTorch process runs is not
# warmed up by pytorch_bench.py's one warm-up pass (resnet20-32 inference alone in a fresh
# process: 540-1,080 img/s; after resnet8-32's three phases: 1,680-1,720), so processes per
# workload would measure the twin colder than this does.
# Writes OUTDIR/pt-PREC-RR.{json,txt} (the twin) and OUTDIR/en-PREC-RR.txt (the engine's rows
# with ratios). After bf16, the engine's fp32 again on the 224 px workloads with Winograd's
# algorithm off (OUTDIR/en-fp32direct-RR.txt, ratios to that round's fp32 twin): bf16 runs the
# direct algorithm only, so speed_bars.py also reads bf16's lead over fp32 by the same
# algorithm (DIRECT=0 skips it).
#
# PYTHON: the interpreter of a throwaway venv with torch (never the repository's); default
# python3. ENGINE_BENCH: the release binary; default .build/release/engine-bench. WORKLOADS:
# space-separated; default the six of the README's table. DIRECT: 0 skips the fp32 direct
# runs. Run on an idle machine.
set -eu
if [ $# -lt 1 ]; then
    echo "usage: $0 OUTDIR [ROUNDS]  (env: PYTHON, ENGINE_BENCH, WORKLOADS, DIRECT)" >&2
    exit 2
fi
out=$1
rounds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
bench=${ENGINE_BENCH:-.build/release/engine-bench}
workloads=${WORKLOADS:-resnet8-32 resnet20-32 resnet18-64 resnet18-224 resnet50-224 detector-32}
[ -x "$bench" ] || { echo "$0: no engine-bench at $bench (swift build -c release --product engine-bench, or set ENGINE_BENCH)" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null || { echo "$0: $python cannot import torch (set PYTHON to a venv's python with torch)" >&2; exit 1; }
args=() large=()
for w in $workloads; do
    args+=(--workload "$w")
    case $w in *-224) large+=(--workload "$w") ;; esac
done
mkdir -p "$out"
for r in $(seq -w 1 "$rounds"); do
    for precision in fp32 bf16; do
        twin="$out/pt-$precision-$r"
        "$python" "$here/pytorch_bench.py" --threads 2 --iterations 3 --precision "$precision" "${args[@]}" \
            --json "$twin.json" > "$twin.txt" 2>&1
        "$bench" --threads 2 --iterations 3 --precision "$precision" "${args[@]}" --pytorch "$twin.json" \
            > "$out/en-$precision-$r.txt.partial" 2>&1
        mv "$out/en-$precision-$r.txt.partial" "$out/en-$precision-$r.txt"
        echo "round $r of $rounds, $precision: $out/en-$precision-$r.txt ($(date -u +%H:%M:%S) UTC)" >&2
    done
    if [ "${DIRECT:-1}" != 0 ] && [ ${#large[@]} -gt 0 ]; then
        "$bench" --threads 2 --iterations 3 --precision fp32 --winograd off "${large[@]}" --pytorch "$out/pt-fp32-$r.json" \
            > "$out/en-fp32direct-$r.txt.partial" 2>&1
        mv "$out/en-fp32direct-$r.txt.partial" "$out/en-fp32direct-$r.txt"
        echo "round $r of $rounds, fp32 direct: $out/en-fp32direct-$r.txt ($(date -u +%H:%M:%S) UTC)" >&2
    fi
done
