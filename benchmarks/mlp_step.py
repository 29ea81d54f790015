"""One MLP training step (784 -> 128 -> 10, tanh, softmax cross-entropy), three ways.

minigrad, the same step written by hand in NumPy (the physical limit for an engine over
NumPy), and PyTorch's CPU eager mode when it is installed. Each is timed after a warm-up,
several times, in one process, and reported as a median and as a ratio to hand-written
NumPy. PyTorch runs last, in its own phase: its OpenMP threads keep spinning after a step
and would slow the next BLAS call of whatever ran after it.
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import interleaved_medians, median_seconds


def make_problem(batch: int = 64, dtype=np.float64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 784)).astype(dtype)
    y = rng.integers(0, 10, batch)
    w1 = (rng.uniform(-1, 1, (128, 784)) / np.sqrt(784)).astype(dtype)
    b1 = (rng.uniform(-1, 1, 128) / np.sqrt(784)).astype(dtype)
    w2 = (rng.uniform(-1, 1, (10, 128)) / np.sqrt(128)).astype(dtype)
    b2 = (rng.uniform(-1, 1, 10) / np.sqrt(128)).astype(dtype)
    return x, y, (w1, b1, w2, b2)


def numpy_step(x, y, params):
    """Forward and backward by hand: the reference every engine is measured against."""
    w1, b1, w2, b2 = params
    batch = x.shape[0]
    h = np.tanh(x @ w1.T + b1)
    logits = h @ w2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = np.log(total[:, 0]).mean() - shifted[np.arange(batch), y].mean()
    grad_logits = exp / total
    grad_logits[np.arange(batch), y] -= 1
    grad_logits /= batch
    grad_w2 = grad_logits.T @ h
    grad_b2 = grad_logits.sum(axis=0)
    grad_h = grad_logits @ w2
    grad_pre = grad_h * (1 - h * h)
    grad_w1 = grad_pre.T @ x
    grad_b1 = grad_pre.sum(axis=0)
    return loss, (grad_w1, grad_b1, grad_w2, grad_b2)


def minigrad_step_factory(x, y, params):
    import minigrad as mg
    from minigrad.nn import functional as F

    inputs = mg.Tensor(x)
    weights = [mg.Tensor(p.copy(), requires_grad=True) for p in params]
    w1, b1, w2, b2 = weights

    def step():
        for w in weights:
            w.grad = None
        hidden = mg.tanh(F.linear(inputs, w1, b1))
        loss = F.cross_entropy(F.linear(hidden, w2, b2), y)
        loss.backward()
        return loss

    return step, weights


def torch_step_factory(x, y, params):
    import torch

    inputs = torch.from_numpy(x)
    target = torch.from_numpy(y)
    weights = [torch.tensor(p, requires_grad=True) for p in params]
    w1, b1, w2, b2 = weights

    def step():
        for w in weights:
            w.grad = None
        hidden = torch.tanh(torch.nn.functional.linear(inputs, w1, b1))
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(hidden, w2, b2), target)
        loss.backward()
        return loss

    return step, weights


def run(batch: int = 64, dtype=np.float64, repeat: int = 15, number: int = 50, torch_too: bool = True) -> dict:
    x, y, params = make_problem(batch, dtype)
    step, _ = minigrad_step_factory(x, y, params)
    results = {}
    # Interleave minigrad and NumPy in rounds so that machine noise hits both alike.
    timed = interleaved_medians({"numpy": lambda: numpy_step(x, y, params), "minigrad": step}, repeat, number)
    results["numpy_ms"] = timed["numpy"] * 1e3
    results["minigrad_ms"] = timed["minigrad"] * 1e3
    results["minigrad_over_numpy"] = results["minigrad_ms"] / results["numpy_ms"]
    if torch_too:
        try:
            import torch  # noqa: F401
        except ImportError:
            torch_too = False
    if torch_too:
        import torch

        torch_step, _ = torch_step_factory(x, y, params)
        results["torch_ms"] = median_seconds(torch_step, repeat, number) * 1e3
        results["minigrad_over_torch"] = results["minigrad_ms"] / results["torch_ms"]
        results["torch_threads"] = torch.get_num_threads()
    return results


def check_same_gradients(batch: int = 8) -> float:
    """Largest difference between minigrad's and the hand-written gradients (a sanity check)."""
    x, y, params = make_problem(batch)
    step, weights = minigrad_step_factory(x, y, params)
    loss = step()
    ref_loss, ref_grads = numpy_step(x, y, params)
    errors = [abs(loss.item() - ref_loss)]
    errors += [float(np.max(np.abs(w.grad.data - g))) for w, g in zip(weights, ref_grads)]
    return max(errors)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--number", type=int, default=50)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    error = check_same_gradients()
    results = run(args.batch, np.dtype(args.dtype), args.repeat, args.number, not args.no_torch)
    print(f"mlp_step 784-128-10 tanh, batch {args.batch}, {args.dtype} (gradients agree to {error:.1e})")
    print(f"  hand-written NumPy  {results['numpy_ms']:.3f} ms")
    print(f"  minigrad            {results['minigrad_ms']:.3f} ms   {results['minigrad_over_numpy']:.2f}x NumPy")
    if "torch_ms" in results:
        print(
            f"  PyTorch ({results['torch_threads']} threads) {results['torch_ms']:.3f} ms   "
            f"minigrad/PyTorch = {results['minigrad_over_torch']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
