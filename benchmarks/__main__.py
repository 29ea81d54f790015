"""`python -m benchmarks` (and `make bench`): every benchmark case, as ratios from one run.

Each case returns a dict of numbers; the runner prints them, writes
``benchmarks/results.json`` and ``benchmarks/results.md`` (the table the README quotes),
and states each target next to the measured ratio. ``--quick`` runs a seconds-long
version of every case (the test suite runs it so the benchmarks cannot rot).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _cases(quick: bool) -> list:
    """(name, callable, targets) for every case; targets map a result key to (op, bound)."""
    from benchmarks import memory, mlp_step, tiny_ops

    repeat = 3 if quick else 15
    cases = [
        ("mlp_step float64 batch 64",
         lambda: mlp_step.run(64, np.float64, repeat, 5 if quick else 30),
         {"minigrad_over_numpy": ("<=", 1.15), "minigrad_over_torch": ("<=", 1.0)}),
        ("mlp_step float32 batch 64",
         lambda: mlp_step.run(64, np.float32, repeat, 5 if quick else 30), {}),
        ("mlp_step float64 batch 1024",
         lambda: mlp_step.run(1024, np.float64, repeat, 2 if quick else 5), {}),
        ("mlp_step float32 batch 1024",
         lambda: mlp_step.run(1024, np.float32, repeat, 2 if quick else 5), {}),
        ("tiny_ops",
         lambda: tiny_ops.run(200 if quick else 10_000, 3 if quick else 7),
         {"minigrad_over_torch": ("<=", 0.75)}),
        ("memory",
         lambda: memory.run(256 if quick else 1024, 20 if quick else 1000),
         {"peak_over_numpy": ("<=", 1.3), "growth_over_steps_kb": ("<=", 64)}),
    ]
    for module_name in ("norm_steps", "power_iteration", "gradcheck_cost", "symbolic_cost"):
        try:
            module = __import__(f"benchmarks.{module_name}", fromlist=["cases"])
        except ImportError:
            continue
        cases.extend(module.cases(quick))
    return cases


def _verdict(value: float, op: str, bound: float) -> str:
    ok = value <= bound if op == "<=" else value >= bound
    return f"{'meets' if ok else 'MISSES'} target {op} {bound}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--only", action="append", help="run only cases whose name contains this")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    started = time.perf_counter()
    results = {}
    rows = []
    for name, run, targets in _cases(args.quick):
        if args.only and not any(part in name for part in args.only):
            continue
        case_start = time.perf_counter()
        numbers = run()
        results[name] = numbers
        print(f"\n{name}  ({time.perf_counter() - case_start:.1f} s)")
        for key, value in numbers.items():
            note = ""
            if key in targets and isinstance(value, (int, float)):
                note = "   " + _verdict(value, *targets[key])
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            print(f"  {key:34s} {text}{note}")
            rows.append((name, key, text, note.strip()))
    total = time.perf_counter() - started
    print(f"\nall cases: {total:.1f} s")
    meta = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "seconds": total,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = ["| case | measure | value | target |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    (out / "results.md").write_text(
        f"Measured {time.strftime('%Y-%m-%d')} on {meta['cpus']} cores, Python {meta['python']}, "
        f"NumPy {meta['numpy']}{' (quick run)' if args.quick else ''}.\n\n" + "\n".join(lines) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
