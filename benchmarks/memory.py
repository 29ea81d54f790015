"""Peak and steady memory of the MLP step (784 -> 128 -> 10, batch 1024), by tracemalloc.

"The arrays the step must hold" is measured, not guessed: it is the peak of the same
step written by hand in NumPy (which keeps only what backward needs, and frees each
temporary at once), traced the same way. Both peaks are counted above a baseline taken
with the parameters and the input already allocated and no gradients held.
"""
from __future__ import annotations

import gc
import tracemalloc


def _peak_above_baseline(fn) -> int:
    gc.collect()
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    del result
    tracemalloc.stop()
    return peak - baseline


def run(batch: int = 1024, steps: int = 1000) -> dict:
    import minigrad as mg
    from minigrad.nn import functional as F
    from benchmarks.mlp_step import make_problem, numpy_step

    x, y, params = make_problem(batch)
    inputs = mg.Tensor(x)
    weights = [mg.Tensor(p.copy(), requires_grad=True) for p in params]
    w1, b1, w2, b2 = weights

    def forward_backward():
        loss = F.cross_entropy(F.linear(mg.tanh(F.linear(inputs, w1, b1)), w2, b2), y)
        loss.backward()
        return loss

    def step():
        for w in weights:
            w.grad = None
        forward_backward()
        with mg.no_grad():
            for w in weights:
                w.data = w.data - 0.01 * w.grad.data

    for _ in range(5):
        step()
    for w in weights:
        w.grad = None
    numpy_peak = _peak_above_baseline(lambda: numpy_step(x, y, params))
    minigrad_peak = _peak_above_baseline(forward_backward)

    for w in weights:
        w.grad = None
    gc.collect()
    tracemalloc.start()
    for _ in range(100):
        step()
    gc.collect()
    after_warm, _ = tracemalloc.get_traced_memory()
    for _ in range(steps):
        step()
    gc.collect()
    after_all, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "numpy_peak_mb": numpy_peak / 2**20,
        "minigrad_peak_mb": minigrad_peak / 2**20,
        "peak_over_numpy": minigrad_peak / numpy_peak,
        "growth_over_steps_kb": (after_all - after_warm) / 1024,
        "steps": steps,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:24s} {value:10.3f}")
