"""`python -m benchmarks` (and `make bench`): every benchmark case, as ratios from one run.

Each case returns a dict of numbers; the runner prints them, writes
``benchmarks/results.json`` and ``benchmarks/results.md`` (headline ratios against their
targets first, then one table per case: the README quotes the first), and states each
target next to the measured ratio. ``--quick`` runs a seconds-long version of every case
(the test suite runs it so the benchmarks cannot rot).

How the numbers are kept honest on a small shared machine:

- Every case runs in a fresh Python process of its own (``--isolate case``, the default),
  and sends its numbers back as JSON: no case inherits another's threads, heap or caches.
- One thread per library (``--threads 1``, the default): the children get
  OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1, so NumPy's BLAS, minigrad's
  (the same) and PyTorch (``torch.get_num_threads()`` follows OMP_NUM_THREADS) do the same
  work on the same single core. On this 2-core machine, while one other process kept a
  core busy, a 2-thread OpenBLAS made the batch-1024 MLP step 65 ms instead of 14.5 ms
  with one thread (its threads wait for each other on the busy core), and the results of
  a whole run depended on what else was running. ``--threads default`` leaves the
  libraries' own defaults.
- OMP_WAIT_POLICY=PASSIVE is set before any torch import (here for the children, and by
  ``benchmarks.common`` for a case module run alone): with the default ACTIVE policy
  PyTorch's OpenMP threads spin after each call, which (with another process busy on one
  of the two cores) made a 2-thread PyTorch MLP step 92 ms instead of 2 ms, and the NumPy
  step timed after it in the same process 9 ms instead of 1 ms.
- Within a case, minigrad and hand-written NumPy alternate sample by sample, and
  PyTorch / HIPS autograd are timed in phases of their own between those rounds, never
  interleaved (``benchmarks.common.phased_samples``). Medians are reported, with the
  number of samples.
- ``meta`` in results.json records the thread settings, PyTorch's thread count as the
  cases saw it, and the load average at the start and end of the run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITE_TARGET_SECONDS = 300.0
CASE_TIMEOUT = {False: 240.0, True: 120.0}  # seconds per case process: full run, quick run

# The ratios the README quotes: (case name prefix, key, what it is, op, bound).
HEADLINES = (
    ("mlp_step float64 batch 64", "minigrad_over_numpy",
     "MLP step 784-128-10 tanh, batch 64, float64: minigrad / hand-written NumPy", "<=", 1.15),
    ("mlp_step float64 batch 64", "minigrad_over_torch", "same step: minigrad / PyTorch", "<", 1.0),
    ("tiny_ops", "minigrad_over_torch",
     "chain of {length:,} elementwise ops on 8 floats, fwd + bwd: minigrad / PyTorch per op", "<=", 0.75),
    ("spectral_norm_step", "minigrad_over_torch",
     "spectral-norm training step, Linear(1024, 1024), batch 64: minigrad / PyTorch", "<=", 1.1),
    ("conv2d_step", "minigrad_over_torch",
     "Conv2d(3, 16, 3) forward + backward, batch 64, 3x32x32, float64: minigrad / PyTorch", "<=", 1.5),
    ("power_iteration", "svd_over_power_step_2048",
     "SVD (singular values only) / one power-iteration step, 2048 x 2048", ">=", 50),
    ("memory", "peak_over_numpy", "MLP step at batch {peak_batch}: peak memory / hand-written NumPy's", "<=", 1.3),
    ("memory", "growth_over_steps_kb", "memory growth over {steps:,} MLP training steps (batch {growth_batch}), KB",
     "<=", 64),
)

# What the labels above say when a case did not run (the full run's sizes).
LABEL_DEFAULTS = {"length": 10_000, "steps": 1000, "peak_batch": 1024, "growth_batch": 64}


def _cases(quick: bool) -> list:
    """(name, callable, targets) for every case; targets map a result key to (op, bound)."""
    import numpy as np

    from benchmarks import memory, mlp_step, tiny_ops

    mlp = dict(rounds=1, repeat=2) if quick else dict(rounds=3, repeat=5)
    cases = [
        ("mlp_step float64 batch 64",
         lambda: mlp_step.run(64, np.float64, number=3 if quick else 20, **mlp),
         {"minigrad_over_numpy": ("<=", 1.15), "minigrad_over_torch": ("<", 1.0)}),
        ("mlp_step float32 batch 64",
         lambda: mlp_step.run(64, np.float32, number=3 if quick else 20, **mlp), {}),
        ("mlp_step float64 batch 1024",
         lambda: mlp_step.run(1024, np.float64, number=1 if quick else 3, **mlp), {}),
        ("mlp_step float32 batch 1024",
         lambda: mlp_step.run(1024, np.float32, number=1 if quick else 3, **mlp), {}),
        ("tiny_ops",
         lambda: tiny_ops.run(200 if quick else 10_000, rounds=1 if quick else 3, repeat=2),
         {"minigrad_over_torch": ("<=", 0.75)}),
        ("memory",
         lambda: memory.run(256, 20, 64, 5) if quick else memory.run(1024, 1000, 64, 100),
         {"peak_over_numpy": ("<=", 1.3), "growth_over_steps_kb": ("<=", 64)}),
    ]
    for module_name in ("norm_steps", "conv_step", "power_iteration", "gradcheck_cost", "symbolic_cost"):
        try:
            module = __import__(f"benchmarks.{module_name}", fromlist=["cases"])
        except ImportError:
            continue
        cases.extend(module.cases(quick))
    return cases


def _passes(value: float, op: str, bound: float) -> bool:
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound, ">": value > bound}[op]


def _verdict(value: float, op: str, bound: float) -> str:
    return f"{'meets' if _passes(value, op, bound) else 'MISSES'} target {op} {bound}"


def _load_average() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on this platform
        return []


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _child_environment(threads: str) -> dict:
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads != "default":
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = threads
    # The children import `benchmarks` from this checkout, wherever the runner was started.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def module_of(name: str) -> str:
    """The group a case belongs to for ``--isolate module``: the first word of its name."""
    word = name.split()[0]
    return "norm_steps" if word.endswith("_norm_step") else word


def run_cases_in_child(names: list, quick: bool, env: dict) -> dict:
    """Run cases in one fresh Python process, in order: {name: outcome} (see ``run_case_here``).

    The child writes each case's outcome as it finishes, so a crash or a timeout loses
    only the cases not yet done; those get {"error": ...}.
    """
    with tempfile.TemporaryDirectory(prefix="minigrad-bench-") as folder:
        result_file = Path(folder) / "cases.jsonl"
        command = [sys.executable, "-m", "benchmarks", "--result-file", str(result_file)]
        for name in names:
            command += ["--child", name]
        if quick:
            command.append("--quick")
        error = None
        try:
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=CASE_TIMEOUT[quick] * len(names))
            if done.returncode != 0:
                lines = (done.stderr or done.stdout).strip().splitlines()
                error = {"error": f"exit code {done.returncode}: {lines[-1] if lines else 'no output'}",
                         "stderr": "\n".join(lines[-20:])}
        except subprocess.TimeoutExpired:
            error = {"error": f"timed out after {CASE_TIMEOUT[quick] * len(names):.0f} s"}
        outcomes = {}
        if result_file.exists():
            for line in result_file.read_text().splitlines():
                outcome = json.loads(line)
                outcomes[outcome.pop("name")] = outcome
        return {name: outcomes.get(name, error or {"error": "no result"}) for name in names}


def run_case_here(name: str, quick: bool) -> dict:
    """Run one case in this process: {"results", "threads", "seconds", "load_average"}."""
    from benchmarks.common import thread_settings

    for case_name, run, _ in _cases(quick):
        if case_name == name:
            started = time.perf_counter()
            results = run()
            return {"results": results, "threads": thread_settings(), "seconds": time.perf_counter() - started,
                    "load_average": _load_average()}
    raise SystemExit(f"python -m benchmarks: no case named {name!r}")


# ---------------------------------------------------------------------------------------
# The Markdown tables
# ---------------------------------------------------------------------------------------
def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        magnitude = math.floor(math.log10(abs(value)))
        if magnitude >= digits:
            return f"{value:,.0f}"
        if magnitude < -3:
            return f"{value:.{digits - 1}e}"
        return f"{value:.{max(digits - 1 - magnitude, 0)}f}"
    return str(value)


def _table(header: list, rows: list) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) if not isinstance(cell, str) else cell for cell in row) + " |"
              for row in rows]
    return lines


def _find(results: dict, prefix: str) -> tuple:
    for name, numbers in results.items():
        if name.startswith(prefix) and isinstance(numbers, dict):
            return name, numbers
    return None, None


def headline_rows(results: dict, seconds: float | None, quick: bool) -> list:
    """(what, measured, target, verdict) for the headline table."""
    rows = []
    for prefix, key, label, op, bound in HEADLINES:
        _, numbers = _find(results, prefix)
        value = (numbers or {}).get(key)
        label = label.format(**{**LABEL_DEFAULTS, **(numbers or {})})
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            verdict = "meets" if _passes(value, op, bound) else "**misses**"
            rows.append((label, _fmt(value), f"{op} {bound}", verdict))
        else:
            rows.append((label, "not measured", f"{op} {bound}", "-"))
    if seconds is not None:
        verdict = "meets" if seconds < SUITE_TARGET_SECONDS else "**misses**"
        rows.append(("the whole suite, `python -m benchmarks`" + (" --quick" if quick else ""),
                     f"{seconds:.0f} s", f"< {SUITE_TARGET_SECONDS:.0f} s", verdict))
    return rows


def _mlp_section(results: dict) -> list:
    rows = []
    for name, numbers in results.items():
        if not name.startswith("mlp_step") or "error" in numbers:
            continue
        _, dtype, _, batch = name.split()
        rows.append((dtype, batch, numbers.get("numpy_ms"), numbers.get("minigrad_ms"), numbers.get("torch_ms"),
                     numbers.get("hips_autograd_ms"), numbers.get("minigrad_over_numpy"),
                     numbers.get("minigrad_over_torch"), numbers.get("minigrad_over_hips_autograd"),
                     f"{numbers.get('samples')} x {numbers.get('steps_per_sample')}"))
    if not rows:
        return []
    return ["### MLP step (784-128-10, tanh, softmax cross-entropy), ms per step", ""] + _table(
        ["dtype", "batch", "NumPy", "minigrad", "PyTorch", "HIPS autograd", "minigrad / NumPy",
         "minigrad / PyTorch", "minigrad / HIPS", "samples x steps"], rows) + [""]


def _tiny_section(numbers: dict) -> list:
    row = (numbers.get("length"), numbers.get("numpy_us_per_op"), numbers.get("minigrad_forward_us_per_op"),
           numbers.get("minigrad_us_per_op"), numbers.get("torch_us_per_op"), numbers.get("hips_autograd_us_per_op"),
           numbers.get("minigrad_over_torch"), numbers.get("samples"))
    return ["### Chain of elementwise ops on 8 floats, us per op", ""] + _table(
        ["ops", "NumPy (forward)", "minigrad forward", "minigrad fwd + bwd", "PyTorch fwd + bwd",
         "HIPS autograd fwd + bwd", "minigrad / PyTorch", "samples"], [row]) + [""]


def _norm_steps_section(results: dict) -> list:
    rows = []
    for kind in ("spectral_norm_step", "weight_norm_step", "batch_norm_step"):
        numbers = results.get(kind)
        if not numbers or "error" in numbers:
            continue
        rows.append((kind, numbers.get("numpy_ms"), numbers.get("minigrad_ms"), numbers.get("torch_ms"),
                     numbers.get("minigrad_over_numpy"), numbers.get("minigrad_over_torch"),
                     numbers.get("max_loss_difference_torch", numbers.get("max_loss_difference_numpy"))))
    if not rows:
        return []
    return ["### Norm training steps, Linear(1024, 1024), batch 64, float64, ms per step", ""] + _table(
        ["step", "NumPy", "minigrad", "PyTorch", "minigrad / NumPy", "minigrad / PyTorch",
         "loss difference"], rows) + [""]


def _power_section(numbers: dict) -> list:
    sizes = sorted({int(key.rsplit("_", 1)[1]) for key in numbers if key.startswith("power_step_us_")})

    def with_samples(key: str, n: int):
        value = numbers.get(f"{key}_ms_{n}")
        if isinstance(value, str):
            return "skipped (time cap)"
        samples = numbers.get(f"{key}_samples_{n}")
        return f"{_fmt(value)} ({samples})" if value is not None else "-"

    rows = [(n, numbers.get(f"power_step_us_{n}"), numbers.get(f"numpy_step_us_{n}"), with_samples("svdvals", n),
             with_samples("svd", n), numbers.get(f"svd_over_power_step_{n}")) for n in sizes]
    growth = ", ".join(f"{what} {numbers[f'{what}_growth']:.2f}" for what in ("power_step", "svdvals", "svd")
                       if isinstance(numbers.get(f"{what}_growth"), float))
    lines = ["### One power-iteration step vs SVD, n x n", ""] + _table(
        ["n", "power step, us", "NumPy step, us", "svdvals, ms (samples)", "full SVD, ms (samples)",
         "svdvals / power step"], rows)
    if growth:
        lines += ["", f"Growth exponent between the two largest sizes (time ~ n^k): {growth}."]
    return lines + [""]


def _gradcheck_section(numbers: dict) -> list:
    labels = [key[len("parameters_"):] for key in numbers if key.startswith("parameters_")]
    rows = []
    for label in labels:
        full = numbers.get(f"full_ms_{label}")
        rows.append((label, numbers.get(f"parameters_{label}"), numbers.get(f"fast_ms_{label}"),
                     "skipped" if isinstance(full, str) else full, numbers.get(f"full_over_fast_{label}"),
                     all(numbers.get(f"{mode}_ok_{label}", True) for mode in ("fast", "full"))))
    return ["### Gradient check cost, MLP of the given size, ms per check", ""] + _table(
        ["network", "parameters", "fast mode", "full mode", "full / fast", "check passed"], rows) + [""]


def _symbolic_section(numbers: dict) -> list:
    norms = [key[:-len("_methods")] for key in numbers if key.endswith("_methods")]
    rows = []
    for norm in norms:
        largest = numbers.get(f"{norm}_largest_proved")
        seconds = numbers.get(f"{norm}_largest_s")
        predicted = numbers.get(f"{norm}_predicted_largest")
        rows.append((norm, numbers.get(f"{norm}_2x2_s"), numbers.get(f"{norm}_2x3_s"), numbers.get(f"{norm}_3x3_s"),
                     numbers.get(f"{norm}_methods", "-"),
                     f"{largest}x{largest} ({_fmt(seconds)} s)" if isinstance(largest, int) else str(largest or "-"),
                     f"{predicted}x{predicted}" if isinstance(predicted, int) else "-",
                     numbers.get(f"{norm}_next", "-")))
    return ["### symbolic_check (proof against sympy.diff), CPU seconds per check", ""] + _table(
        ["norm", "2x2", "2x3", "3x3", "verdicts", "largest proved in < 10 s, measured",
         "largest predicted < 10 s (time ~ n^k)", "search stopped at"],
        rows) + [""]


def _memory_section(numbers: dict) -> list:
    row = (numbers.get("numpy_peak_mb"), numbers.get("minigrad_peak_mb"), numbers.get("peak_over_numpy"),
           numbers.get("peak_batch"), numbers.get("growth_over_steps_kb"), numbers.get("steps"),
           numbers.get("growth_batch"))
    return ["### Memory of the MLP step (tracemalloc)", ""] + _table(
        ["NumPy peak, MB", "minigrad peak, MB", "peak ratio", "at batch", "growth, KB", "over steps",
         "at batch"], [row]) + [""]


def _generic_section(name: str, numbers: dict) -> list:
    return [f"### {name}", ""] + _table(["measure", "value"], list(numbers.items())) + [""]


def render_markdown(meta: dict, results: dict) -> str:
    """results.md: the headline table first (the README quotes it), then one table per case."""
    threads = meta.get("threads", {})
    torch_threads = meta.get("torch_num_threads")
    thread_note = ", ".join(f"{key}={value}" for key, value in threads.items())
    if torch_threads is not None:
        thread_note += f"; torch.get_num_threads()={torch_threads}"
    versions = ", ".join(f"{label} {meta[key]}" for key, label in (("numpy", "NumPy"), ("torch", "PyTorch"),
                                                                    ("hips_autograd", "HIPS autograd"))
                         if meta.get(key))
    lines = [
        f"Measured {meta.get('date', '')} on {meta.get('cpus')} cores, Python {meta.get('python')}, {versions}"
        f"{' (quick run: smoke test sizes, not for quoting)' if meta.get('quick') else ''}. "
        f"Isolation: {meta.get('isolation')}; {thread_note}. Load average (1, 5, 15 min) "
        f"{meta.get('load_average_start')} at the start, {meta.get('load_average_end')} at the end. "
        "Times are medians (samples given); ratios compare runs in the same process.",
        "",
        "## Headline ratios",
        "",
    ]
    lines += _table(["what", "measured", "target", ""], headline_rows(results, meta.get("seconds"), meta.get("quick")))
    lines += ["", "## Details", ""]
    lines += _mlp_section(results)
    handled = {name for name in results if name.startswith("mlp_step")}
    handled |= {"spectral_norm_step", "weight_norm_step", "batch_norm_step"}
    for name, numbers in results.items():
        if "error" in numbers:
            lines += [f"### {name}", "", f"FAILED: {numbers['error']}", ""]
        elif name == "tiny_ops":
            lines += _tiny_section(numbers)
        elif name == "memory":
            lines += _memory_section(numbers)
        elif name == "spectral_norm_step":
            lines += _norm_steps_section(results)
        elif name.startswith("power_iteration"):
            lines += _power_section(numbers)
        elif name.startswith("gradcheck_cost"):
            lines += _gradcheck_section(numbers)
        elif name.startswith("symbolic_cost"):
            lines += _symbolic_section(numbers)
        elif name not in handled:
            lines += _generic_section(name, numbers)
    case_seconds = meta.get("case_seconds", {})
    if case_seconds:
        lines += ["### Seconds per case (a process's start-up counts in its first case)", ""]
        lines += _table(["case", "seconds"], [(name, f"{seconds:.1f}") for name, seconds in case_seconds.items()])
        lines += [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------
def _print_case(name: str, numbers: dict, targets: dict, seconds: float) -> None:
    print(f"\n{name}  ({seconds:.1f} s)", flush=True)
    if "error" in numbers:
        print(f"  FAILED: {numbers['error']}")
        if numbers.get("stderr"):
            print("  " + numbers["stderr"].replace("\n", "\n  "))
        return
    for key, value in numbers.items():
        note = ""
        if key in targets and isinstance(value, (int, float)) and not isinstance(value, bool):
            note = "   " + _verdict(value, *targets[key])
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"  {key:34s} {text}{note}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--only", action="append", help="run only cases whose name contains this")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json and results.md")
    parser.add_argument("--threads", default="1",
                        help="threads per library for every case (default 1); 'default' leaves the libraries' own")
    parser.add_argument("--isolate", choices=("case", "module", "none"), default=None,
                        help="a fresh process for each case (the default), for each module's cases "
                             "(the default with --quick), or all cases in this one")
    parser.add_argument("--child", action="append", help=argparse.SUPPRESS)  # run these cases here
    parser.add_argument("--result-file", help=argparse.SUPPRESS)  # where the child writes its JSON lines
    args = parser.parse_args(argv)
    isolate = args.isolate or ("module" if args.quick else "case")
    if args.threads != "default" and not (args.threads.isdigit() and int(args.threads) > 0):
        parser.error(f"--threads must be a positive integer or 'default', not {args.threads!r}")

    if args.child:
        with open(args.result_file, "a") as handle:
            for name in args.child:
                outcome = run_case_here(name, args.quick)
                handle.write(json.dumps({"name": name, **outcome}) + "\n")
                handle.flush()
        return 0

    env = _child_environment(args.threads)
    if isolate == "none":
        from benchmarks.common import thread_settings

        # Thread counts can only be set before NumPy loads its BLAS: in this process they
        # are whatever the environment said at start-up.
        env = {**os.environ, **{key: value for key, value in thread_settings().items() if key.isupper()}}
    load_start = _load_average()
    started = time.perf_counter()
    selected = [(name, targets) for name, _, targets in _cases(args.quick)
                if not args.only or any(part in name for part in args.only)]
    groups = []  # lists of case names that share a process
    for name, _ in selected:
        key = name if isolate == "case" else module_of(name) if isolate == "module" else "all"
        if groups and groups[-1][0] == key:
            groups[-1][1].append(name)
        else:
            groups.append((key, [name]))
    targets_of = dict(selected)
    results, case_seconds, child_threads, failed = {}, {}, {}, []
    for _, names in groups:
        group_start = time.perf_counter()
        if isolate == "none":
            outcomes = {name: run_case_here(name, args.quick) for name in names}
        else:
            outcomes = run_cases_in_child(names, args.quick, env)
        group_seconds = time.perf_counter() - group_start
        # Each case's own seconds; the rest (the process's start-up) goes to the group's first.
        own = {name: outcomes[name].get("seconds", 0.0) for name in names}
        own[names[0]] = group_seconds - sum(own[name] for name in names[1:])
        for name in names:
            outcome = outcomes[name]
            seconds = own[name]
            if "error" in outcome:
                numbers = {"error": outcome["error"], "stderr": outcome.get("stderr", "")}
                failed.append(name)
            else:
                numbers = outcome["results"]
            results[name] = numbers
            case_seconds[name] = round(seconds, 1)
            child_threads[name] = outcome.get("threads", {})
            _print_case(name, numbers, targets_of[name], seconds)
    total = time.perf_counter() - started
    load_end = _load_average()
    print(f"\nall cases: {total:.1f} s (load average {load_start} at the start, {load_end} at the end)")

    torch_threads = sorted({t["torch_num_threads"] for t in child_threads.values() if "torch_num_threads" in t})
    import numpy as np

    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": _version("torch"),
        "hips_autograd": _version("autograd"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "isolation": {"case": "one process per case", "module": "one process per module's cases",
                      "none": "all cases in one process"}[isolate],
        "threads": {name: env.get(name, "unset") for name in
                    ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")},
        "torch_num_threads": torch_threads[0] if len(torch_threads) == 1 else (torch_threads or None),
        "threads_per_case": child_threads,
        "load_average_start": load_start,
        "load_average_end": load_end,
        "seconds": total,
        "case_seconds": case_seconds,
        "failed": failed,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    (out / "results.md").write_text(render_markdown(meta, results) + "\n")
    if failed:
        print(f"FAILED cases: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
