#!/usr/bin/env python3
"""The speed bars of docs/engine.md § Speed, read round by round from a beside_pytorch.sh run.

    python3 Sources/engine-bench/speed_bars.py OUTDIR

Reads OUTDIR/en-fp32-RR.txt and OUTDIR/en-bf16-RR.txt (engine-bench's rows with PyTorch's
ratios) and prints, for each bar, how many round-rows meet it and which do not:
  - fp32, 32 and 64 px workloads: engine / PyTorch >= 1.2
  - fp32, 224 px workloads: >= 1.0
  - bf16, 224 px: engine / PyTorch's bf16 autocast >= 1.0
  - bf16, 224 px: engine bf16 / engine fp32 (same round) >= 1.5
and, when the run has OUTDIR/en-fp32direct-RR.txt, the same bf16 ratio to the engine's fp32 with
Winograd's algorithm off (the algorithm bf16 runs), for information: the bar is the line above.
Then each row's lowest-highest ratio and median (markdown). Standard library only.
"""
import glob
import os
import re
import statistics
import sys

ROW = re.compile(r"^(\S+)\s+(inference|attack|train)\s+([\d.]+) \(.*\s([\d.]+)×\s*$")


def load(outdir, precision):
    """{round: {(workload, phase): (img/s, ratio)}} from en-PRECISION-RR.txt."""
    rounds = {}
    for path in sorted(glob.glob(os.path.join(outdir, f"en-{precision}-*.txt"))):
        r = os.path.basename(path)[len(f"en-{precision}-"):-len(".txt")]
        rows = {}
        with open(path) as f:
            for line in f:
                m = ROW.match(line)
                if m:
                    rows[(m[1], m[2])] = (float(m[3]), float(m[4]))
        rounds[r] = rows
    return rounds


def size(workload):
    return int(workload.rsplit("-", 1)[1])


def bar(name, cells, threshold):
    """cells: [(round, workload, phase, value)]."""
    misses = [c for c in cells if c[3] < threshold]
    print(f"{name}: {len(cells) - len(misses)} of {len(cells)}")
    for r, w, p, v in misses:
        print(f"  miss: round {r}, {w} {p}: {v:.2f}")
    return not misses


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: speed_bars.py OUTDIR (a beside_pytorch.sh output directory)")
    outdir = sys.argv[1]
    fp32, bf16 = load(outdir, "fp32"), load(outdir, "bf16")
    if not fp32:
        sys.exit(f"speed_bars.py: no en-fp32-*.txt with ratios in {outdir}")
    cells = lambda rounds: [(r, w, p, ratio) for r, rows in rounds.items() for (w, p), (_, ratio) in rows.items()]
    ok = bar("fp32, 32/64 px, engine/PyTorch >= 1.2", [c for c in cells(fp32) if size(c[1]) < 224], 1.2)
    ok &= bar("fp32, 224 px, engine/PyTorch >= 1.0", [c for c in cells(fp32) if size(c[1]) >= 224], 1.0)
    if bf16:
        ok &= bar("bf16, 224 px, engine/PyTorch bf16 >= 1.0", [c for c in cells(bf16) if size(c[1]) >= 224], 1.0)
        # Rounded to two places, as engine-bench prints its ratios to PyTorch's.
        own = [(r, w, p, round(rate / fp32[r][(w, p)][0], 2))
               for r, rows in bf16.items() if r in fp32
               for (w, p), (rate, _) in rows.items() if size(w) >= 224 and (w, p) in fp32[r]]
        ok &= bar("bf16, 224 px, engine bf16/engine fp32 >= 1.5", own, 1.5)
        direct = load(outdir, "fp32direct")
        if direct:
            same = [(r, w, p, round(rate / direct[r][(w, p)][0], 2))
                    for r, rows in bf16.items() if r in direct
                    for (w, p), (rate, _) in rows.items() if (w, p) in direct[r]]
            bar("(information) bf16, 224 px, engine bf16/engine fp32 with --winograd off >= 1.5", same, 1.5)
    print(f"rounds: {len(fp32)} fp32, {len(bf16)} bf16; every bar in every round: {'yes' if ok else 'no'}")
    for precision, rounds in (("fp32", fp32), ("bf16", bf16), ("fp32, --winograd off", load(outdir, "fp32direct"))):
        if not rounds:
            continue
        print(f"\n{precision}, engine ÷ PyTorch, lowest–highest (median):\n")
        print("| workload | inference | attack step | training step |\n|---|---|---|---|")
        workloads = list(dict.fromkeys(w for rows in rounds.values() for (w, _) in rows))
        for w in workloads:
            out = []
            for p in ("inference", "attack", "train"):
                v = [rows[(w, p)][1] for rows in rounds.values() if (w, p) in rows]
                out.append(f"{min(v):.2f}–{max(v):.2f} ({statistics.median(v):.2f})" if v else "–")
            print(f"| {w} | " + " | ".join(out) + " |")


if __name__ == "__main__":
    main()
