"""A chain of elementwise ops on an 8-element tensor: the engine's per-op cost.

On tiny arrays NumPy's own call (about half a microsecond) is all the arithmetic there
is, so what is measured is the engine: recording a node in forward, and running a VJP
and accumulating in backward. Reported per op, against the same chain in PyTorch.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import median_seconds, torch_or_none


def _chain(x, length: int):
    # Alternate two ops so the chain is not one op's special case.
    for i in range(length // 2):
        x = x * 1.0001
        x = x + 0.5
    return x


def run(length: int = 10_000, repeat: int = 7, torch_too: bool = True) -> dict:
    import minigrad as mg

    x = mg.tensor(np.linspace(-1, 1, 8), requires_grad=True)

    def forward():
        return _chain(x, length)

    def forward_backward():
        x.grad = None
        _chain(x, length).sum().backward()

    base = np.linspace(-1, 1, 8)
    results = {
        "numpy_us_per_op": median_seconds(lambda: _chain(base, length), repeat, 1) / length * 1e6,
        "minigrad_forward_us_per_op": median_seconds(forward, repeat, 1) / length * 1e6,
        "minigrad_us_per_op": median_seconds(forward_backward, repeat, 1) / length * 1e6,
    }
    torch = torch_or_none() if torch_too else None
    if torch is not None:
        tx = torch.tensor(np.linspace(-1, 1, 8), requires_grad=True)

        def torch_forward_backward():
            tx.grad = None
            _chain(tx, length).sum().backward()

        results["torch_us_per_op"] = median_seconds(torch_forward_backward, repeat, 1) / length * 1e6
        results["minigrad_over_torch"] = results["minigrad_us_per_op"] / results["torch_us_per_op"]
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:28s} {value:8.3f}")
