"""Peak and steady memory of the MLP step (784 -> 128 -> 10), by tracemalloc.

Peak, at batch 1024 (where the arrays dominate): "the arrays the step must hold" is
measured, not guessed: it is the peak of the same step written by hand in NumPy (which
keeps only what backward needs, and frees each temporary at once), traced the same way.
Both peaks are counted above a baseline taken with the parameters and the input already
allocated and no gradients held.

Growth, over 1,000 training steps (forward, backward, SGD update) after 100 warm-up steps,
at batch 64 (``growth_batch``): what is still allocated after the last step minus what was
after the warm-up. Any array kept alive by a step would show as at least 64 KB per step
(64 MB in all) at that batch, and a leaked graph node as its bookkeeping per step; at batch
64 the 1,000 steps take about 2 s instead of about 18 s at batch 1024.
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


def _training_step(batch: int):
    """(forward_backward, step, weights, (x, y, params)) of the MLP at ``batch``."""
    import minigrad as mg
    from minigrad.nn import functional as F
    from benchmarks.mlp_step import make_problem

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

    return forward_backward, step, weights, (x, y, params)


def run(batch: int = 1024, steps: int = 1000, growth_batch: int = 64, warm_steps: int = 100) -> dict:
    from benchmarks.mlp_step import numpy_step

    forward_backward, step, weights, (x, y, params) = _training_step(batch)
    for _ in range(5):
        step()
    for w in weights:
        w.grad = None
    numpy_peak = _peak_above_baseline(lambda: numpy_step(x, y, params))
    minigrad_peak = _peak_above_baseline(forward_backward)

    _, step, weights, _ = _training_step(growth_batch)
    gc.collect()
    tracemalloc.start()
    for _ in range(warm_steps):
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
        "peak_batch": batch,
        "growth_batch": growth_batch,
        "steps": steps,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:24s} {value:10.3f}")
