"""One power-iteration step against a full SVD, for square matrices of 64..2048.

Spectral norm needs only sigma_1, and estimates it with one power-iteration step per
training forward (v = normalize(W^T u), u = normalize(W v): two matrix-vector products,
O(n^2)), where an exact answer needs an SVD (O(n^3)). This measures both as n grows:

    power_step   the step exactly as norms.spectral_norm runs it in a training forward
                 (norms.functional._power_steps on minigrad tensors, under no_grad)
    numpy_step   the same two matvecs and normalisations written in NumPy (the floor)
    svdvals      np.linalg.svd(W, compute_uv=False): singular values only
    svd          np.linalg.svd(W): the full decomposition, with U and V

``svd_over_power_step_<n>`` is svdvals' time over the power step's (the cheaper SVD, so
the ratio is the conservative one); ``full_svd_over_power_step_<n>`` uses the full SVD.
``<what>_growth`` is the log-log slope between the two largest sizes (2 for O(n^2), 3 for
O(n^3)). Every time is a median after a warm-up: the steps over ``step_samples_<n>``
samples of about 30 ms each. An SVD of 2048 x 2048 takes seconds (about 4 s for svdvals
and 7 s for the full SVD on one thread; tens of seconds when a busy core makes a
multi-threaded OpenBLAS wait for itself), so the SVDs share a time budget (40 s): the
number of samples falls with n (5 up to 256, 3 up to 1024, at 2048 two of svdvals and one
full SVD; ``<what>_samples_<n>``), a full SVD that would not fit is reported as skipped
(never guessed), the svdvals of the largest size always run, and above 512 the warm-up of
an SVD is the previous, smaller size's runs of the same LAPACK routine rather than another
multi-second call of its own.
"""
from __future__ import annotations

import math
import time

import numpy as np

from benchmarks.common import median_seconds

SIZES = (64, 128, 256, 512, 1024, 2048)
QUICK_SIZES = (64, 128, 256)


def _numbers_for(seconds_per_call: float, target: float = 0.05) -> int:
    """Calls per sample so one sample lasts about ``target`` seconds."""
    return max(1, int(target / max(seconds_per_call, 1e-7)))


def adaptive_median(fn, repeat: int, target: float = 0.05, warmup: int = 2) -> float:
    """median_seconds with the calls per sample chosen from a first timed call."""
    fn()
    start = time.perf_counter()
    fn()
    number = _numbers_for(time.perf_counter() - start, target)
    return median_seconds(fn, repeat=repeat, number=number, warmup=warmup)


def budgeted_median(fn, max_samples: int, warmup: int, deadline_at: float, predicted: float,
                    required: bool = False):
    """(median seconds, samples) of single calls of a slow ``fn``, within a time budget.

    Samples are taken while the next one is expected to end before ``deadline_at`` (at
    least one when ``required``). Returns (None, 0) when even one call (``predicted``
    seconds) would not fit and the measurement is not required.
    """
    if not required and time.monotonic() + predicted * (1 + warmup) > deadline_at:
        return None, 0
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < max_samples:
        if times and time.monotonic() + times[-1] > deadline_at:
            break
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


def _max_samples(n: int, key: str) -> int:
    """Samples of one SVD: fewer as n grows (at 2048 x 2048, one-thread svdvals take about
    4 s and a full SVD about 7 s; two and one samples there)."""
    if n <= 256:
        return 5
    if n <= 1024:
        return 3
    return 2 if key == "svdvals" else 1


def make_matrix(n: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((n, n)) / math.sqrt(n)
    u = rng.standard_normal(n)
    return weight, u / np.linalg.norm(u)


def measure(n: int, deadline_at: float, previous: dict | None = None, required: bool = False,
            repeat: int = 5) -> dict:
    """Seconds per call of the four computations at size n x n (None: skipped, time cap)."""
    import minigrad as mg
    from norms.functional import _power_steps

    weight, u0 = make_matrix(n)
    matrix, u = mg.Tensor(weight), mg.Tensor(u0)
    eps = 1e-12

    def power_step():
        with mg.no_grad():
            return _power_steps(matrix, u, 1, eps)

    def numpy_step():
        v = weight.T @ u0
        v /= max(float(np.linalg.norm(v)), eps)
        w = weight @ v
        return w / max(float(np.linalg.norm(w)), eps), v

    # The engine's step must compute the same vectors as the NumPy one.
    (mg_u, mg_v), (np_u, np_v) = power_step(), numpy_step()
    assert np.allclose(mg_u.data, np_u, rtol=1e-12, atol=1e-14), f"power step differs at n={n}"
    assert np.allclose(mg_v.data, np_v, rtol=1e-12, atol=1e-14), f"power step differs at n={n}"

    row = {"power_step": adaptive_median(power_step, repeat, target=0.03),
           "numpy_step": adaptive_median(numpy_step, repeat, target=0.03)}
    warmup = 1 if n <= 512 else 0
    for key, fn in (("svdvals", lambda: np.linalg.svd(weight, compute_uv=False)),
                    ("svd", lambda: np.linalg.svd(weight))):
        earlier = previous and previous.get(key)
        # O(n^3): the previous size's time scaled up, or nothing known yet.
        predicted = earlier[0] * (n / earlier[1]) ** 3 if earlier else 0.0
        seconds, samples = budgeted_median(fn, _max_samples(n, key), warmup, deadline_at, predicted,
                                           required and key == "svdvals")
        row[key] = (seconds, n) if seconds is not None else None
        row[f"{key}_samples"] = samples
        row[f"{key}_predicted"] = predicted
    return row


def _slope(sizes, times) -> float:
    """Log-log slope between the two largest sizes: the exponent k in time ~ n^k."""
    return math.log(times[-1] / times[-2]) / math.log(sizes[-1] / sizes[-2])


def run(sizes=SIZES, repeat: int = 5, svd_budget: float = 40.0) -> dict:
    """The table as flat keys; SVDs share ``svd_budget`` seconds (the largest svdvals always runs)."""
    deadline_at = time.monotonic() + svd_budget
    table, previous = {}, None
    for n in sizes:
        row = measure(n, deadline_at, previous, required=(n == sizes[-1]), repeat=repeat)
        table[n] = row
        previous = {key: row[key] or (previous or {}).get(key) for key in ("svdvals", "svd")}
    results = {}
    for n, row in table.items():
        results[f"power_step_us_{n}"] = row["power_step"] * 1e6
        results[f"numpy_step_us_{n}"] = row["numpy_step"] * 1e6
        results[f"power_step_over_numpy_{n}"] = row["power_step"] / row["numpy_step"]
        results[f"step_samples_{n}"] = repeat
        for key, label in (("svdvals", "svdvals"), ("svd", "svd")):
            if row[key] is None:
                results[f"{label}_ms_{n}"] = (f"skipped (time cap; predicted "
                                              f"{row[f'{key}_predicted']:.3g} s per call)")
            else:
                results[f"{label}_ms_{n}"] = row[key][0] * 1e3
                results[f"{label}_samples_{n}"] = row[f"{key}_samples"]
        if row["svdvals"] is not None:
            results[f"svd_over_power_step_{n}"] = row["svdvals"][0] / row["power_step"]
        if row["svd"] is not None:
            results[f"full_svd_over_power_step_{n}"] = row["svd"][0] / row["power_step"]
    if len(sizes) >= 2:
        for what in ("power_step", "numpy_step", "svdvals", "svd"):
            values = [table[n][what] for n in sizes[-2:]]
            if all(v is not None for v in values):
                values = [v[0] if isinstance(v, tuple) else v for v in values]
                results[f"{what}_growth"] = _slope(sizes, values)
    return results


def cases(quick: bool) -> list:
    """(name, callable, targets) for the runner in benchmarks/__main__.py."""
    sizes = QUICK_SIZES if quick else SIZES
    largest = sizes[-1]
    targets = {"svd_over_power_step_2048": (">=", 50)} if 2048 in sizes else {}
    return [(
        f"power_iteration vs svd, n = {sizes[0]}..{largest}",
        lambda: run(sizes, 3 if quick else 5, 1.5 if quick else 40.0),
        targets,
    )]


def print_table(results: dict, sizes) -> None:
    def cell(key, scale_unit):
        value = results.get(key)
        return f"{value:>10.1f} {scale_unit}" if isinstance(value, float) else f"{'skipped':>13}"

    print(f"{'n':>6} {'power step':>13} {'NumPy step':>13} {'svdvals':>13} {'full svd':>13} {'svdvals/step':>13}")
    for n in sizes:
        ratio = results.get(f"svd_over_power_step_{n}")
        print(f"{n:>6} {cell(f'power_step_us_{n}', 'us')} {cell(f'numpy_step_us_{n}', 'us')} "
              f"{cell(f'svdvals_ms_{n}', 'ms')} {cell(f'svd_ms_{n}', 'ms')} "
              + (f"{ratio:>12.0f}x" if ratio else ""))
    growth = [f"{what} {results[f'{what}_growth']:.2f}" for what in ("power_step", "numpy_step", "svdvals", "svd")
              if f"{what}_growth" in results]
    if growth:
        print("growth exponent (time ~ n^k) between the two largest sizes: " + ", ".join(growth))


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--svd-budget", type=float, default=40.0)
    args = parser.parse_args(argv)
    sizes = tuple(sorted(args.sizes))
    print_table(run(sizes, args.repeat, args.svd_budget), sizes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
