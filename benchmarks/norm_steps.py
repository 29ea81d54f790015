"""Training steps of a Linear(1024, 1024) layer with a norm, in minigrad and in PyTorch.

Three cases, each one SGD step (forward, softmax cross-entropy over the 1024 outputs,
backward, update) on a batch of 64 in float64:

    spectral_norm_step  norms.spectral_norm (one power iteration per training forward)
                        against torch.nn.utils.spectral_norm
    weight_norm_step    norms.weight_norm (dim=0) against torch.nn.utils.weight_norm
    batch_norm_step     Linear then norms.BatchNorm1d (training mode) against the same in
                        torch.nn

Each step is also written by hand in NumPy (the floor for an engine over NumPy, as in
mlp_step). All three start from the same weights, power-iteration vectors and batch, and
the losses of their first steps are compared (``max_loss_difference_*``) so every side is
known to do the same work. Thread counts are left as they are; PyTorch's is reported.
The runner (``python -m benchmarks``) gives every library one thread; run alone with
OpenBLAS's default of one thread per core, a busy second core slows the NumPy and
minigrad steps (their GEMMs) about fourfold while PyTorch's passive OpenMP threads cope,
so the ratios against PyTorch are only meaningful with equal, uncontended threads.
minigrad and NumPy are timed in alternating rounds; PyTorch is timed in phases of its own
between those rounds, never interleaved (its OpenMP threads spin after a call and slow the
next BLAS call), and the median over all rounds is reported, so slow drift of a shared
machine hits every side.
"""
from __future__ import annotations

import warnings

import numpy as np

from benchmarks.common import interleaved_medians, median_seconds, torch_or_none

FEATURES = 1024
BATCH = 64
LEARNING_RATE = 0.01
KINDS = ("spectral_norm", "weight_norm", "batch_norm")


def make_problem(features: int = FEATURES, batch: int = BATCH, seed: int = 0) -> dict:
    """The arrays both libraries start from (PyTorch's default Linear init, fixed seed)."""
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(features)
    u = rng.standard_normal(features)
    v = rng.standard_normal(features)
    return {
        "x": rng.standard_normal((batch, features)),
        "y": rng.integers(0, features, batch),
        "weight": rng.uniform(-bound, bound, (features, features)),
        "bias": rng.uniform(-bound, bound, features),
        "u": u / np.linalg.norm(u),
        "v": v / np.linalg.norm(v),
    }


def minigrad_step_factory(kind: str, problem: dict):
    """One minigrad training step of ``kind``; returns (step, model). step() returns the loss."""
    import minigrad as mg
    import norms
    from minigrad import optim
    from minigrad.nn import functional as F
    from minigrad.nn.layers import Linear, Sequential

    linear = Linear(problem["weight"].shape[1], problem["weight"].shape[0])
    linear.weight.data = problem["weight"].copy()
    linear.bias.data = problem["bias"].copy()
    if kind == "spectral_norm":
        model = norms.spectral_norm(linear, n_power_iterations=1)
        model.weight_u.data = problem["u"].copy()
        model.weight_v.data = problem["v"].copy()
    elif kind == "weight_norm":
        model = norms.weight_norm(linear, dim=0)
    elif kind == "batch_norm":
        model = Sequential(linear, norms.BatchNorm1d(problem["weight"].shape[0]))
    else:
        raise ValueError(f"minigrad_step_factory: unknown kind {kind!r}; use one of {KINDS}")
    model.train()
    optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs = mg.Tensor(problem["x"])
    target = problem["y"]

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), target)
        loss.backward()
        optimizer.step()
        return loss

    return step, model


def torch_step_factory(kind: str, problem: dict):
    """The same step in PyTorch; returns (step, model). step() returns the loss."""
    import torch

    out_features, in_features = problem["weight"].shape
    linear = torch.nn.Linear(in_features, out_features, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(problem["weight"]))
        linear.bias.copy_(torch.from_numpy(problem["bias"]))
    with warnings.catch_warnings():
        # torch.nn.utils.weight_norm is deprecated in favour of parametrizations; the old
        # API is the one norms mirrors, so it is the one measured.
        warnings.simplefilter("ignore", FutureWarning)
        if kind == "spectral_norm":
            model = torch.nn.utils.spectral_norm(linear, n_power_iterations=1)
            with torch.no_grad():
                model.weight_u.copy_(torch.from_numpy(problem["u"]))
                model.weight_v.copy_(torch.from_numpy(problem["v"]))
        elif kind == "weight_norm":
            model = torch.nn.utils.weight_norm(linear, dim=0)
        elif kind == "batch_norm":
            model = torch.nn.Sequential(linear, torch.nn.BatchNorm1d(out_features, dtype=torch.float64))
        else:
            raise ValueError(f"torch_step_factory: unknown kind {kind!r}; use one of {KINDS}")
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs = torch.from_numpy(problem["x"])
    target = torch.from_numpy(problem["y"])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(inputs), target)
        loss.backward()
        optimizer.step()
        return loss

    return step, model


def _softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple:
    """(mean loss, its gradient with respect to the logits), by hand."""
    rows = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = np.log(total[:, 0]).mean() - shifted[np.arange(rows), y].mean()
    grad = exp / total
    grad[np.arange(rows), y] -= 1
    grad /= rows
    return loss, grad


def numpy_step_factory(kind: str, problem: dict):
    """The same step written by hand in NumPy (the floor for an engine over NumPy).

    NumPy as a careful hand would write it: every array op allocates its result, except
    the SGD update, which is in place (as PyTorch's); sums of products are dot products
    (np.vdot, np.einsum) that form no temporary, and a scalar meets the short vector
    before the matrix (outer(c * u, v), v * (g / norm)), so no full-size pass is spent
    on it. Returns (step, state); step() returns the loss.
    """
    x, y, eps = problem["x"], problem["y"], 1e-12
    state = {"weight": problem["weight"].copy(), "bias": problem["bias"].copy()}
    if kind == "spectral_norm":
        state["u"] = problem["u"].copy()

        def step():
            weight, bias, u = state["weight"], state["bias"], state["u"]
            v = weight.T @ u
            v /= max(float(np.linalg.norm(v)), eps)
            weight_v = weight @ v
            sigma_raw = float(np.linalg.norm(weight_v))
            u = weight_v / max(sigma_raw, eps)
            state["u"] = u
            sigma = float(u @ weight_v)
            normalized = weight / sigma
            loss, grad_logits = _softmax_cross_entropy(x @ normalized.T + bias, y)
            grad_normalized = grad_logits.T @ x
            # d(W / sigma) with u, v constant: G / sigma - (<G, W> / sigma^2) u v^T
            c = float(np.vdot(grad_normalized, normalized)) / sigma
            grad_weight = grad_normalized / sigma - np.outer(c * u, v)
            weight -= LEARNING_RATE * grad_weight
            bias -= LEARNING_RATE * grad_logits.sum(axis=0)
            return loss

    elif kind == "weight_norm":
        state["v"] = state.pop("weight")
        state["g"] = np.linalg.norm(state["v"], axis=1, keepdims=True)

        def step():
            g, v, bias = state["g"], state["v"], state["bias"]
            norm = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
            weight = v * (g / norm)
            loss, grad_logits = _softmax_cross_entropy(x @ weight.T + bias, y)
            grad_weight = grad_logits.T @ x
            s = np.einsum("ij,ij->i", grad_weight, v)[:, None]
            grad_g = s / norm
            grad_v = (g / norm) * (grad_weight - v * (s / (norm * norm)))
            g -= LEARNING_RATE * grad_g
            v -= LEARNING_RATE * grad_v
            bias -= LEARNING_RATE * grad_logits.sum(axis=0)
            return loss

    elif kind == "batch_norm":
        features = problem["weight"].shape[0]
        state.update(gamma=np.ones(features), beta=np.zeros(features),
                     running_mean=np.zeros(features), running_var=np.ones(features))

        def step():
            weight, bias, gamma, beta = state["weight"], state["bias"], state["gamma"], state["beta"]
            hidden = x @ weight.T + bias
            rows = hidden.shape[0]
            mean = hidden.mean(axis=0)
            centred = hidden - mean
            var = (centred * centred).mean(axis=0)
            inv_std = 1.0 / np.sqrt(var + 1e-5)
            xhat = centred * inv_std
            state["running_mean"] = 0.9 * state["running_mean"] + 0.1 * mean
            state["running_var"] = 0.9 * state["running_var"] + 0.1 * var * rows / (rows - 1)
            loss, grad_out = _softmax_cross_entropy(xhat * gamma + beta, y)
            grad_gamma = np.sum(grad_out * xhat, axis=0)
            grad_beta = grad_out.sum(axis=0)
            # Ioffe & Szegedy: (1/m) (gamma/sigma) (m G - sum G - xhat sum(G xhat))
            grad_hidden = (gamma * inv_std / rows) * (rows * grad_out - grad_beta - xhat * grad_gamma)
            weight -= LEARNING_RATE * (grad_hidden.T @ x)
            bias -= LEARNING_RATE * grad_hidden.sum(axis=0)
            gamma -= LEARNING_RATE * grad_gamma
            beta -= LEARNING_RATE * grad_beta
            return loss

    else:
        raise ValueError(f"numpy_step_factory: unknown kind {kind!r}; use one of {KINDS}")
    return step, state


def max_loss_difference_numpy(kind: str, problem: dict, steps: int = 3) -> float:
    """Largest |loss_minigrad - loss_numpy| over the first ``steps`` steps from the same start."""
    minigrad_step, _ = minigrad_step_factory(kind, problem)
    numpy_step, _ = numpy_step_factory(kind, problem)
    return max(abs(minigrad_step().item() - float(numpy_step())) for _ in range(steps))


def max_loss_difference(kind: str, problem: dict, steps: int = 3) -> float:
    """Largest |loss_minigrad - loss_torch| over the first ``steps`` steps from the same start."""
    minigrad_step, _ = minigrad_step_factory(kind, problem)
    torch_step, _ = torch_step_factory(kind, problem)
    return max(abs(minigrad_step().item() - torch_step().item()) for _ in range(steps))


def run(kind: str, rounds: int = 3, repeat: int = 3, number: int = 3, warmup: int = 1,
        torch_too: bool = True, features: int = FEATURES, batch: int = BATCH, check_steps: int = 3) -> dict:
    """Median ms per step of minigrad, hand-written NumPy and (if installed) PyTorch.

    minigrad and NumPy are interleaved (``interleaved_medians``); PyTorch runs in phases of
    its own between the rounds, each phase warmed up again, and its median is over all.
    """
    problem = make_problem(features, batch)
    minigrad_step, _ = minigrad_step_factory(kind, problem)
    numpy_step, _ = numpy_step_factory(kind, problem)
    torch = torch_or_none() if torch_too else None
    torch_step = torch_step_factory(kind, problem)[0] if torch is not None else None
    minigrad_samples, numpy_samples, torch_samples = [], [], []
    for _ in range(rounds):
        medians = interleaved_medians({"minigrad": minigrad_step, "numpy": numpy_step}, repeat, number, warmup)
        minigrad_samples.append(medians["minigrad"])
        numpy_samples.append(medians["numpy"])
        if torch_step is not None:
            torch_samples.append(median_seconds(torch_step, repeat, number, warmup))
    minigrad_s, numpy_s = float(np.median(minigrad_samples)), float(np.median(numpy_samples))
    results = {"minigrad_ms": minigrad_s * 1e3, "numpy_ms": numpy_s * 1e3,
               "minigrad_over_numpy": minigrad_s / numpy_s,
               "max_loss_difference_numpy": max_loss_difference_numpy(kind, problem, check_steps)}
    if torch is not None:
        torch_s = float(np.median(torch_samples))
        results["torch_ms"] = torch_s * 1e3
        results["minigrad_over_torch"] = minigrad_s / torch_s
        results["numpy_over_torch"] = numpy_s / torch_s
        results["torch_threads"] = torch.get_num_threads()
        results["max_loss_difference_torch"] = max_loss_difference(kind, problem, check_steps)
    return results


def cases(quick: bool) -> list:
    """(name, callable, targets) for the runner in benchmarks/__main__.py."""
    if quick:
        settings = dict(rounds=1, repeat=1, number=2, warmup=1, check_steps=1)
    else:
        settings = dict(rounds=3, repeat=3, number=3, warmup=1)
    targets = {
        "spectral_norm": {"minigrad_over_torch": ("<=", 1.1)},
        "weight_norm": {},
        "batch_norm": {},
    }
    return [
        (f"{kind}_step", (lambda kind=kind: run(kind, **settings)), targets[kind])
        for kind in KINDS
    ]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", action="append", choices=KINDS, help="run only these (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--number", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    for kind in args.kind or KINDS:
        results = run(kind, args.rounds, args.repeat, args.number, torch_too=not args.no_torch)
        print(f"{kind}_step: Linear({FEATURES}, {FEATURES}), batch {BATCH}, float64, SGD")
        for key, value in results.items():
            print(f"  {key:22s} {value:.4g}" if isinstance(value, float) else f"  {key:22s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
