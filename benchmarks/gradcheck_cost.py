"""What a gradient check costs: full Jacobian against fast mode, on MLPs of 1k..1M parameters.

The checked function is the mean squared error of a tanh MLP (in -> hidden -> 10, batch
16, float64) as a function of its four parameter tensors. Full mode
(``check_gradients(..., fast_mode=False)``) perturbs every parameter entry twice, so it
costs about 2 P forward passes for P parameters; fast mode compares one random projection
<u, J v> per parameter tensor (two forward passes each, and one backward pass). Full mode
is run only up to about 10k parameters and reported as skipped above that (about 200k
forward passes at 100k parameters: minutes, not a benchmark).

Fast mode is the median of 5 checks; full mode of 3 at 1k parameters and a single check
(about 3 s) at 10k, warmed up by the 1k runs (``full_samples_<label>``).

Thread counts are left as they are (``python -m benchmarks`` runs every case with one
BLAS thread). On a loaded 2-core machine a multi-threaded OpenBLAS can make each small
matrix product wait for a busy core, so when more than one thread is allowed, fast mode is
also timed with one BLAS thread: in process with threadpoolctl when it is installed,
otherwise in a child process started with OPENBLAS_NUM_THREADS=1 (and OMP/MKL likewise),
which needs nothing installed. Every check must pass (``*_ok``): a failing check would not
be the cost of a check.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import median_seconds

BATCH = 16
OUTPUTS = 10
# (label, inputs, hidden): about 1k, 10k, 100k and 1M parameters.
NETWORKS = (
    ("1k", 20, 32),
    ("10k", 64, 128),
    ("100k", 512, 192),
    ("1M", 1024, 968),
)
FULL_MODE_LIMIT = 10_000  # parameters; above this full mode is skipped
ROOT = Path(__file__).resolve().parents[1]


def parameter_count(inputs: int, hidden: int) -> int:
    return inputs * hidden + hidden + hidden * OUTPUTS + OUTPUTS


def make_check(inputs: int, hidden: int, seed: int = 0):
    """(loss_fn, parameters): an MLP's MSE loss as a function of its parameter tensors."""
    import minigrad as mg
    from minigrad.nn import functional as F

    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.standard_normal((BATCH, inputs)))
    target = mg.Tensor(rng.standard_normal((BATCH, OUTPUTS)))
    arrays = (
        rng.uniform(-1, 1, (hidden, inputs)) / np.sqrt(inputs),
        rng.uniform(-1, 1, hidden) / np.sqrt(inputs),
        rng.uniform(-1, 1, (OUTPUTS, hidden)) / np.sqrt(hidden),
        rng.uniform(-1, 1, OUTPUTS) / np.sqrt(hidden),
    )
    params = tuple(mg.Tensor(a, requires_grad=True) for a in arrays)

    def mlp_loss(w1, b1, w2, b2):
        return F.mse_loss(F.linear(mg.tanh(F.linear(x, w1, b1)), w2, b2), target)

    return mlp_loss, params


def time_check(inputs: int, hidden: int, fast_mode: bool, repeat: int, warmup: int = 1) -> tuple:
    """(median seconds of one check, every check passed, forward passes of one check)."""
    from minigrad.verification.gradcheck import check_gradients

    loss_fn, params = make_check(inputs, hidden)
    outcomes = []

    def check():
        result = check_gradients(loss_fn, params, fast_mode=fast_mode, seed=0, locate=False)
        outcomes.append((result.ok, result.forward_passes))

    seconds = median_seconds(check, repeat=repeat, number=1, warmup=warmup)
    return seconds, all(ok for ok, _ in outcomes), outcomes[-1][1]


def _blas_threads_note() -> str:
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    set_ = [f"{n}={os.environ[n]}" for n in names if n in os.environ]
    return ", ".join(set_) if set_ else "library default"


def fast_mode_times(networks, repeat: int) -> dict:
    """{label: (seconds, ok)} for fast mode on each network, threads as they are."""
    out = {}
    for label, inputs, hidden in networks:
        seconds, ok, _ = time_check(inputs, hidden, True, repeat)
        out[label] = (seconds, ok)
    return out


def single_thread_fast_mode(networks, repeat: int) -> tuple:
    """(method, {label: (seconds, ok)}) for fast mode with one BLAS thread, or (why not, {})."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            return "threadpoolctl", fast_mode_times(networks, repeat)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    labels = [label for label, _, _ in networks]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gradcheck_cost", "--fast-only-json", "--repeat", str(repeat),
         "--networks", *labels],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        return f"child process failed: {done.stderr.strip().splitlines()[-1:]}", {}
    return "child process with OPENBLAS_NUM_THREADS=1", {
        label: tuple(value) for label, value in json.loads(done.stdout.strip().splitlines()[-1]).items()
    }


def _one_blas_thread_already() -> bool:
    return all(os.environ.get(name) == "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))


def run(networks=NETWORKS, repeat_fast: int = 5, repeat_full: int = 3, single_thread: bool = True,
        full_limit: int = FULL_MODE_LIMIT) -> dict:
    """Fast mode on every network, full mode up to ``full_limit`` parameters.

    Full mode's samples fall as it grows: ``repeat_full`` checks with a warm-up of one at
    the smallest network, then (seconds each) a single check, warmed up by the smaller
    network's runs of the same code (``full_samples_<label>``).
    """
    results = {"blas_threads": _blas_threads_note()}
    for label, inputs, hidden in networks:
        results[f"parameters_{label}"] = parameter_count(inputs, hidden)
    for label, inputs, hidden in networks:
        seconds, ok, passes = time_check(inputs, hidden, True, repeat_fast)
        results[f"fast_ms_{label}"] = seconds * 1e3
        results[f"fast_ok_{label}"] = ok
        results[f"fast_forward_passes_{label}"] = passes
    results["fast_samples"] = repeat_fast
    for index, (label, inputs, hidden) in enumerate(networks):
        if parameter_count(inputs, hidden) > full_limit:
            results[f"full_ms_{label}"] = f"skipped (full mode above ~{full_limit // 1000}k parameters)"
            continue
        samples, warmup = (repeat_full, 1) if index == 0 else (1, 0)
        seconds, ok, passes = time_check(inputs, hidden, False, samples, warmup)
        results[f"full_samples_{label}"] = samples
        results[f"full_ms_{label}"] = seconds * 1e3
        results[f"full_ok_{label}"] = ok
        results[f"full_forward_passes_{label}"] = passes
        results[f"full_over_fast_{label}"] = seconds * 1e3 / results[f"fast_ms_{label}"]
    if single_thread and _one_blas_thread_already():
        results["single_blas_thread_method"] = "not needed: the times above already use one BLAS thread"
    elif single_thread:
        method, times = single_thread_fast_mode(networks, repeat_fast)
        results["single_blas_thread_method"] = method
        for label, (seconds, ok) in times.items():
            results[f"fast_ms_{label}_1_blas_thread"] = seconds * 1e3
            results[f"fast_ok_{label}_1_blas_thread"] = bool(ok)
            results[f"fast_as_is_over_1_thread_{label}"] = results[f"fast_ms_{label}"] / (seconds * 1e3)
    return results


def cases(quick: bool) -> list:
    """(name, callable, targets) for the runner in benchmarks/__main__.py."""
    if quick:
        return [("gradcheck_cost (quick: 1k, 10k)",
                 lambda: run(NETWORKS[:2], repeat_fast=3, repeat_full=1, single_thread=False, full_limit=2_000), {})]
    return [("gradcheck_cost", lambda: run(NETWORKS, repeat_fast=5, repeat_full=3), {})]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=[label for label, _, _ in NETWORKS])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fast-only-json", action="store_true",
                        help="time fast mode only and print {label: [seconds, ok]} as JSON (the child run)")
    args = parser.parse_args(argv)
    networks = [n for n in NETWORKS if n[0] in args.networks]
    if args.fast_only_json:
        print(json.dumps({label: list(value) for label, value in fast_mode_times(networks, args.repeat).items()}))
        return 0
    for key, value in run(networks, repeat_fast=args.repeat).items():
        print(f"  {key:36s} {value:.4g}" if isinstance(value, float) else f"  {key:36s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
