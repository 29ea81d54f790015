"""A chain of elementwise ops on an 8-element tensor: the engine's per-op cost.

On tiny arrays NumPy's own call (about half a microsecond) is all the arithmetic there
is, so what is measured is the engine: recording a node in forward, and running a VJP
and accumulating in backward. Reported per op (forward and backward of the whole chain
divided by its length), against the same chain in PyTorch and HIPS autograd when they are
installed, each timed in phases of its own (``phased_samples``). The gradient of the chain
is known exactly (x -> 1.0001 x + 0.5, repeated: d/dx = 1.0001^(length/2)), and every
side's gradient is compared with it (``*_grad_error``, relative).
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import hips_autograd_or_none, median, phased_samples, spread, torch_or_none

FACTOR = 1.0001


def _chain(x, length: int):
    # Alternate two ops so the chain is not one op's special case.
    for _ in range(length // 2):
        x = x * FACTOR
        x = x + 0.5
    return x


def exact_gradient(length: int) -> float:
    return FACTOR ** (length // 2)


def run(length: int = 10_000, rounds: int = 3, repeat: int = 2, torch_too: bool = True,
        autograd_too: bool = True) -> dict:
    """us per op of the chain's forward and backward; medians over ``rounds * repeat`` runs."""
    import minigrad as mg

    base = np.linspace(-1, 1, 8)
    exact = exact_gradient(length)
    x = mg.tensor(base.copy(), requires_grad=True)

    def forward():
        return _chain(x, length)

    def forward_backward():
        x.grad = None
        _chain(x, length).sum().backward()
        return x.grad.data

    phases = [{"numpy": lambda: _chain(base, length), "minigrad_forward": forward, "minigrad": forward_backward}]
    errors = {"minigrad": forward_backward()}
    torch = torch_or_none() if torch_too else None
    if torch is not None:
        tx = torch.tensor(base.copy(), requires_grad=True)

        def torch_forward_backward():
            tx.grad = None
            _chain(tx, length).sum().backward()
            return tx.grad

        phases.append({"torch": torch_forward_backward})
        errors["torch"] = torch_forward_backward().numpy()
    hips = hips_autograd_or_none() if autograd_too else None
    if hips is not None:
        chain_grad = hips.grad(lambda values: _chain(values, length).sum())

        def autograd_forward_backward():
            return chain_grad(base)

        phases.append({"hips_autograd": autograd_forward_backward})
        errors["hips_autograd"] = autograd_forward_backward()
    samples = phased_samples(phases, rounds, repeat, number=1, warmup=1)
    results = {"length": length}
    for name, values in samples.items():
        results[f"{name}_us_per_op"] = median(values) / length * 1e6
    for name in ("torch", "hips_autograd"):
        if name in samples:
            results[f"minigrad_over_{name}"] = results["minigrad_us_per_op"] / results[f"{name}_us_per_op"]
    for name, values in samples.items():
        results[f"{name}_spread"] = spread(values)
    results["samples"] = rounds * repeat
    for name, gradient in errors.items():
        results[f"{name}_grad_error"] = float(np.max(np.abs(np.asarray(gradient) - exact)) / exact)
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:28s} {value:10.4g}")
