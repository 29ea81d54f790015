"""A Conv2d layer's forward and backward pass, in minigrad and in PyTorch.

One case, ``conv2d_step``: a batch of 64 images of 3 x 32 x 32 through Conv2d(3, 16, 3)
(no padding, stride 1, with bias) in float64, then the backward pass from a fixed output
gradient, giving the gradients of the weight, the bias and the input (a layer inside a
network needs all three). Both libraries start from the same weights, input and output
gradient, and the largest difference of their gradients is reported
(``max_grad_difference_torch``) so both are known to do the same work.

minigrad's convolution on floats copies NumPy's strided windows once into a column matrix
that serves the forward product and the weight gradient, and computes the input gradient
(the transposed convolution) as one batched product plus kh * kw strided additions; see
minigrad/ops/conv.py. PyTorch is timed in
phases of its own (``benchmarks.common.phased_samples``), one thread each when run by
``python -m benchmarks``.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import median, phased_samples, spread, torch_or_none

BATCH, CHANNELS, SIZE, OUT_CHANNELS, KERNEL = 64, 3, 32, 16, 3


def make_problem(batch: int = BATCH, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(CHANNELS * KERNEL * KERNEL)
    out_size = SIZE - KERNEL + 1
    return {
        "x": rng.standard_normal((batch, CHANNELS, SIZE, SIZE)),
        "weight": rng.uniform(-bound, bound, (OUT_CHANNELS, CHANNELS, KERNEL, KERNEL)),
        "bias": rng.uniform(-bound, bound, OUT_CHANNELS),
        "grad_output": rng.standard_normal((batch, OUT_CHANNELS, out_size, out_size)),
    }


def minigrad_step_factory(problem: dict):
    """One forward + backward of minigrad's Conv2d; step() returns (weight, bias, input) gradients."""
    import minigrad as mg
    from minigrad import nn

    layer = nn.Conv2d(CHANNELS, OUT_CHANNELS, KERNEL)
    layer.load_state_dict({"weight": problem["weight"], "bias": problem["bias"]})
    x = mg.tensor(problem["x"], requires_grad=True)
    grad_output = mg.tensor(problem["grad_output"])

    def step():
        layer.weight.grad = layer.bias.grad = x.grad = None
        layer(x).backward(grad_output)
        return layer.weight.grad.data, layer.bias.grad.data, x.grad.data

    return step


def torch_step_factory(problem: dict):
    """The same in PyTorch; step() returns the three gradients as arrays."""
    import torch

    layer = torch.nn.Conv2d(CHANNELS, OUT_CHANNELS, KERNEL, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(problem["weight"]))
        layer.bias.copy_(torch.from_numpy(problem["bias"]))
    x = torch.tensor(problem["x"], requires_grad=True)
    grad_output = torch.from_numpy(problem["grad_output"])

    def step():
        layer.weight.grad = layer.bias.grad = x.grad = None
        layer(x).backward(grad_output)
        return layer.weight.grad.numpy(), layer.bias.grad.numpy(), x.grad.numpy()

    return step


def run(rounds: int = 3, repeat: int = 5, number: int = 3, warmup: int = 1, batch: int = BATCH) -> dict:
    """Median ms per forward + backward of minigrad and (if installed) PyTorch, and their ratio."""
    problem = make_problem(batch)
    minigrad_step = minigrad_step_factory(problem)
    phases = [{"minigrad": minigrad_step}]
    torch = torch_or_none()
    if torch is not None:
        torch_step = torch_step_factory(problem)
        phases.append({"torch": torch_step})
    samples = phased_samples(phases, rounds, repeat, number, warmup)
    results = {"batch": batch, "minigrad_ms": median(samples["minigrad"]) * 1e3,
               "minigrad_spread": spread(samples["minigrad"])}
    if torch is not None:
        results["torch_ms"] = median(samples["torch"]) * 1e3
        results["minigrad_over_torch"] = results["minigrad_ms"] / results["torch_ms"]
        results["torch_threads"] = torch.get_num_threads()
        results["max_grad_difference_torch"] = float(max(
            np.max(np.abs(ours - theirs)) for ours, theirs in zip(minigrad_step(), torch_step())
        ))
    return results


def cases(quick: bool) -> list:
    """(name, callable, targets) for the runner in benchmarks/__main__.py."""
    settings = dict(rounds=1, repeat=1, number=1, warmup=1, batch=8) if quick else dict(rounds=3, repeat=5, number=3)
    return [("conv2d_step", lambda: run(**settings), {"minigrad_over_torch": ("<=", 1.5)})]


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
