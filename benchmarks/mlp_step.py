"""One MLP training step (784 -> 128 -> 10, tanh, softmax cross-entropy), up to four ways.

minigrad, the same step written by hand in NumPy (the physical limit for an engine over
NumPy), and, when they are installed, PyTorch's CPU eager mode and HIPS autograd. Each is
timed after a warm-up, several times, in one process, and reported as a median and as a
ratio. minigrad and NumPy alternate sample by sample; PyTorch and HIPS autograd run in
phases of their own after them, round after round, never interleaved with the NumPy side
(PyTorch's OpenMP threads can spin after a step and slow the next BLAS call; importing
``benchmarks.common`` sets OMP_WAIT_POLICY=PASSIVE before torch is imported). Before the
timing, every side's loss and gradients are compared with minigrad's from the same start.

Thread counts are whatever the environment says; ``python -m benchmarks`` runs this case in
a process of its own with one thread per library (see benchmarks/__main__.py for why).
"""
from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import (hips_autograd_or_none, median, phased_samples, spread, thread_settings,
                               torch_or_none)


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
    # each row's target entry by its flat position (several times cheaper than a pair index)
    picked = np.arange(0, logits.size, logits.shape[1]) + y
    loss = np.log(total[:, 0]).mean() - shifted.reshape(-1)[picked].mean()
    grad_logits = exp / total
    grad_logits.reshape(-1)[picked] -= 1
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


def hips_autograd_step_factory(x, y, params):
    """The same step in HIPS autograd (when installed): value_and_grad of the loss."""
    import autograd.numpy as anp
    from autograd import value_and_grad

    rows = np.arange(x.shape[0])

    def loss_fn(weights):
        w1, b1, w2, b2 = weights
        hidden = anp.tanh(anp.dot(x, w1.T) + b1)
        logits = anp.dot(hidden, w2.T) + b2
        # log-sum-exp by hand (autograd.scipy would need SciPy): shift by the row maximum.
        shifted = logits - anp.max(logits, axis=1, keepdims=True)
        return anp.mean(anp.log(anp.sum(anp.exp(shifted), axis=1)) - shifted[rows, y])

    loss_and_grads = value_and_grad(loss_fn)
    weights = [p.copy() for p in params]

    def step():
        return loss_and_grads(weights)

    return step, weights


def run(batch: int = 64, dtype=np.float64, rounds: int = 3, repeat: int = 5, number: int = 20,
        torch_too: bool = True, autograd_too: bool = True) -> dict:
    """Median ms per step of hand-written NumPy, minigrad and (if installed) PyTorch, HIPS autograd.

    minigrad and NumPy alternate sample by sample; PyTorch and HIPS autograd are timed in
    phases of their own after them, and the sequence is repeated ``rounds`` times
    (``phased_samples``). Each median is over ``rounds * repeat`` samples of ``number``
    steps; ``*_spread`` is (max - min) / median of those samples. ``minigrad_over_numpy``
    is the median of the ratios of adjacent minigrad and NumPy samples; the ratios to
    PyTorch and HIPS autograd (timed in other phases) are ratios of the medians.
    """
    x, y, params = make_problem(batch, dtype)
    step, _ = minigrad_step_factory(x, y, params)
    phases = [{"numpy": lambda: numpy_step(x, y, params), "minigrad": step}]
    torch = torch_or_none() if torch_too else None
    if torch is not None:
        phases.append({"torch": torch_step_factory(x, y, params)[0]})
    hips = hips_autograd_or_none() if autograd_too else None
    if hips is not None:
        phases.append({"hips_autograd": hips_autograd_step_factory(x, y, params)[0]})
    samples = phased_samples(phases, rounds, repeat, number)
    results = {}
    for name, values in samples.items():
        results[f"{name}_ms"] = median(values) * 1e3
    # minigrad and NumPy samples alternate, so each minigrad sample has a NumPy one taken
    # right before it: the median of those paired ratios cancels the machine's slow drift.
    results["minigrad_over_numpy"] = median([m / n for m, n in zip(samples["minigrad"], samples["numpy"])])
    for name in ("torch", "hips_autograd"):
        if f"{name}_ms" in results:
            results[f"minigrad_over_{name}"] = results["minigrad_ms"] / results[f"{name}_ms"]
    for name, values in samples.items():
        results[f"{name}_spread"] = spread(values)
    results["samples"] = rounds * repeat
    results["steps_per_sample"] = number
    results["max_grad_difference_numpy"] = max_gradient_difference(batch, dtype, "numpy")
    if torch is not None:
        results["max_grad_difference_torch"] = max_gradient_difference(batch, dtype, "torch")
        results["torch_threads"] = torch.get_num_threads()
    if hips is not None:
        results["max_grad_difference_hips_autograd"] = max_gradient_difference(batch, dtype, "hips_autograd")
    return results


def max_gradient_difference(batch: int = 8, dtype=np.float64, against: str = "numpy") -> float:
    """Largest |difference| between minigrad's loss and gradients and another side's, same start.

    ``against`` is "numpy" (the hand-written step), "torch" or "hips_autograd".
    """
    x, y, params = make_problem(batch, dtype)
    step, weights = minigrad_step_factory(x, y, params)
    loss = float(step().item())
    mine = [w.grad.data for w in weights]
    if against == "numpy":
        other_loss, other = numpy_step(x, y, params)
    elif against == "torch":
        torch_step, torch_weights = torch_step_factory(x, y, params)
        other_loss = torch_step().item()
        other = [w.grad.numpy() for w in torch_weights]
    elif against == "hips_autograd":
        other_loss, other = hips_autograd_step_factory(x, y, params)[0]()
    else:
        raise ValueError(f"max_gradient_difference: unknown side {against!r}; use numpy, torch or hips_autograd")
    errors = [abs(loss - float(other_loss))]
    errors += [float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
               for a, b in zip(mine, other)]
    return max(errors)


def check_same_gradients(batch: int = 8) -> float:
    """Largest difference between minigrad's and the hand-written gradients (a sanity check)."""
    return max_gradient_difference(batch, np.float64, "numpy")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-autograd", action="store_true", help="skip HIPS autograd even if installed")
    args = parser.parse_args(argv)
    results = run(args.batch, np.dtype(args.dtype), args.rounds, args.repeat, args.number,
                  not args.no_torch, not args.no_autograd)
    print(f"mlp_step 784-128-10 tanh, batch {args.batch}, {args.dtype}; "
          f"median of {results['samples']} samples of {results['steps_per_sample']} steps")
    print(f"  threads: {thread_settings()}")
    print(f"  gradients agree with hand-written NumPy to {results['max_grad_difference_numpy']:.1e}")
    print(f"  hand-written NumPy  {results['numpy_ms']:8.3f} ms")
    print(f"  minigrad            {results['minigrad_ms']:8.3f} ms   {results['minigrad_over_numpy']:.2f}x NumPy")
    for name, label in (("torch", "PyTorch"), ("hips_autograd", "HIPS autograd")):
        if f"{name}_ms" in results:
            print(f"  {label:19s} {results[f'{name}_ms']:8.3f} ms   minigrad/{label} = "
                  f"{results[f'minigrad_over_{name}']:.2f}x   (gradients agree to "
                  f"{results[f'max_grad_difference_{name}']:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
