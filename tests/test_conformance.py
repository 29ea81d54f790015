"""Conformance with PyTorch 2.13: every PyTorch-style op and layer function on the same inputs.

Each case runs in minigrad and in PyTorch (float64) on several kinds of input: a plain
one, a 0-d one, an empty one and a non-contiguous one (a transposed NumPy view, shared by
``from_numpy`` on both sides), and compares the forward values (1e-10), the gradient of
a fixed weighting of the output with respect to the input (1e-10) and, for bad input,
the kind of error. Where minigrad differs on purpose the case says why in ``DIFFERS``.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch (the optional oracle) is not installed")
TF = torch.nn.functional


def _inputs(kind: str, shape: tuple) -> np.ndarray:
    rng = np.random.default_rng(abs(hash((kind, shape))) % 2**32)
    if kind == "plain":
        return rng.standard_normal(shape)
    if kind == "0-d":
        return np.asarray(rng.standard_normal())
    if kind == "empty":
        return np.zeros((0,) + shape[1:])
    if kind == "non-contiguous":
        base = rng.standard_normal(shape[::-1])
        view = base.T
        assert not view.flags.c_contiguous or view.ndim < 2
        return view
    raise ValueError(kind)


# name -> (minigrad function, torch function, shape, kinds it is defined on)
ALL, NO_EMPTY, NO_ZERO_D = ("plain", "0-d", "empty", "non-contiguous"), ("plain", "0-d", "non-contiguous"), \
    ("plain", "empty", "non-contiguous")
CASES = {
    "sum(dim=-1)": (lambda x: x.sum(dim=-1), lambda x: x.sum(dim=-1), (3, 4), ALL),
    "sum(dim, keepdim)": (lambda x: x.sum(dim=0, keepdim=True), lambda x: x.sum(dim=0, keepdim=True), (3, 4), ALL),
    "mean(dim=-1)": (lambda x: x.mean(dim=-1), lambda x: x.mean(dim=-1), (3, 4), ALL),
    "mean(dim=0)": (lambda x: x.mean(dim=0), lambda x: x.mean(dim=0), (3, 4), NO_EMPTY),
    "var(dim=0)": (lambda x: x.var(dim=0), lambda x: x.var(dim=0), (4, 3), ("plain", "non-contiguous")),
    "var(correction=0)": (lambda x: x.var(correction=0), lambda x: x.var(correction=0), (4, 3), NO_EMPTY),
    "std(dim=1, keepdim)": (lambda x: x.std(dim=1, keepdim=True), lambda x: x.std(dim=1, keepdim=True), (3, 4),
                            ("plain", "non-contiguous")),
    "prod(dim=1)": (lambda x: x.prod(dim=-1), lambda x: x.prod(dim=-1), (3, 4), ALL),
    "prod()": (lambda x: x.prod(), lambda x: x.prod(), (3, 4), ALL),
    "amax(dim=1)": (lambda x: x.amax(dim=-1), lambda x: x.amax(dim=-1), (3, 4), NO_EMPTY),
    "max(dim)": (lambda x: x.max(-1), lambda x: x.max(-1), (3, 4), NO_EMPTY),
    "min(dim, keepdim)": (lambda x: x.min(0, keepdim=True), lambda x: x.min(0, keepdim=True), (3, 4), NO_EMPTY),
    "argmax(dim)": (lambda x: x.argmax(dim=-1), lambda x: x.argmax(dim=-1), (3, 4), NO_EMPTY),
    "argmin()": (lambda x: x.argmin(), lambda x: x.argmin(), (3, 4), NO_EMPTY),
    "argmax(keepdim) over all": (lambda x: x.argmax(keepdim=True), lambda x: x.argmax(keepdim=True), (3, 4), NO_EMPTY),
    "logsumexp(dim)": (lambda x: x.logsumexp(dim=-1), lambda x: x.logsumexp(dim=-1), (3, 4), ALL),
    "softmax(dim)": (lambda x: F.softmax(x, dim=-1), lambda x: TF.softmax(x, dim=-1), (3, 4), ALL),
    "log_softmax(dim=0)": (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0), (3, 4), ALL),
    "sort(dim)": (lambda x: x.sort(dim=-1), lambda x: x.sort(dim=-1), (3, 4), ALL),
    "sort(descending)": (lambda x: x.sort(dim=0, descending=True), lambda x: x.sort(dim=0, descending=True), (3, 4),
                         ALL),
    "topk(2)": (lambda x: x.topk(2, dim=-1), lambda x: x.topk(2, dim=-1), (3, 4), ("plain", "empty", "non-contiguous")),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), (3, 4), ALL),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), (3, 4), ALL),
    "squeeze()": (lambda x: x.unsqueeze(0).squeeze(), lambda x: x.unsqueeze(0).squeeze(), (3, 4), ALL),
    "squeeze(dim)": (lambda x: x.unsqueeze(-1).squeeze(-1), lambda x: x.unsqueeze(-1).squeeze(-1), (3, 4), ALL),
    "permute": (lambda x: x.permute(1, 0), lambda x: x.permute(1, 0), (3, 4), NO_ZERO_D),
    "transpose(0, 1)": (lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1), (3, 4), NO_ZERO_D),
    "view(-1)": (lambda x: x.reshape(-1), lambda x: x.reshape(-1), (3, 4), ALL),
    "flatten()": (lambda x: x.flatten(), lambda x: x.flatten(), (3, 4), ALL),
    "expand": (lambda x: x.unsqueeze(0).expand(2, *x.shape), lambda x: x.unsqueeze(0).expand(2, *x.shape), (3, 4), ALL),
    "repeat": (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), (3, 4), ALL),
    "cat": (lambda x: mg.cat([x, x * 2.0], dim=0), lambda x: torch.cat([x, x * 2.0], dim=0), (3, 4), NO_ZERO_D),
    "split(2)": (lambda x: x.split(2, dim=1), lambda x: x.split(2, dim=1), (3, 5), NO_ZERO_D),
    "chunk(2)": (lambda x: x.chunk(2, dim=1), lambda x: x.chunk(2, dim=1), (3, 5), NO_ZERO_D),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), (3, 4), ALL),
    "clamp(min)": (lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1), (3, 4), ALL),
    "sin": (lambda x: x.sin(), lambda x: x.sin(), (3, 4), ALL),
    "cos": (lambda x: x.cos(), lambda x: x.cos(), (3, 4), ALL),
    "erf": (lambda x: mg.erf(x), lambda x: torch.erf(x), (3, 4), ALL),
    "masked_fill (broadcast mask)": (lambda x: x.masked_fill(x.data[..., :1] > 0 if x.ndim else x > 0, 1.5),
                                     lambda x: x.masked_fill(x[..., :1] > 0 if x.ndim else x > 0, 1.5), (3, 4), ALL),
    "mul (broadcast)": (lambda x: x * x.sum(dim=0, keepdim=True), lambda x: x * x.sum(dim=0, keepdim=True), (3, 4),
                        ALL),
    "gelu": (lambda x: F.gelu(x), lambda x: TF.gelu(x), (3, 4), ALL),
    "gelu(tanh)": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), (3, 4), ALL),
    "softplus": (lambda x: F.softplus(x * 10.0, beta=2.0), lambda x: TF.softplus(x * 10.0, beta=2.0), (3, 4), ALL),
    "layer_norm": (lambda x: F.layer_norm(x, (4,)), lambda x: TF.layer_norm(x, (4,)), (3, 4),
                   ("plain", "non-contiguous")),
    "conv2d": (lambda x: F.conv2d(x.reshape(1, 1, *x.shape), x[:2, :2].reshape(1, 1, 2, 2) * 1.0, padding=1),
               lambda x: TF.conv2d(x.reshape(1, 1, *x.shape), x[:2, :2].reshape(1, 1, 2, 2) * 1.0, padding=1), (3, 4),
               ("plain", "non-contiguous")),
    "max_pool2d": (lambda x: F.max_pool2d(x.reshape(1, 1, *x.shape), 2, 1),
                   lambda x: TF.max_pool2d(x.reshape(1, 1, *x.shape), 2, 1),
                   (3, 4), ("plain", "non-contiguous")),
    "avg_pool2d": (lambda x: F.avg_pool2d(x.reshape(1, 1, *x.shape), 2, 1, 1),
                   lambda x: TF.avg_pool2d(x.reshape(1, 1, *x.shape), 2, 1, 1),
                   (3, 4), ("plain", "non-contiguous")),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x.reshape(1, 1, *x.shape), (2, 3)),
                            lambda x: TF.adaptive_avg_pool2d(x.reshape(1, 1, *x.shape), (2, 3)), (3, 4),
                            ("plain", "non-contiguous")),
    "mse_loss": (lambda x: F.mse_loss(x, x * 0.5 + 0.25), lambda x: TF.mse_loss(x, x * 0.5 + 0.25), (3, 4), NO_EMPTY),
    "l1_loss": (lambda x: F.l1_loss(x, x.detach() * 0.5), lambda x: TF.l1_loss(x, x.detach() * 0.5), (3, 4), NO_EMPTY),
    "bce_with_logits": (lambda x: F.binary_cross_entropy_with_logits(x * 3.0, mg.tensor((x.data > 0) * 1.0)),
                        lambda x: TF.binary_cross_entropy_with_logits(x * 3.0, (x.detach() > 0).double()), (3, 4),
                        NO_EMPTY),
}

# Inputs where minigrad differs from PyTorch on purpose: (case, kind) -> why.
DIFFERS = {
    ("mean(dim=0)", "empty"): "PyTorch returns NaN for the mean of nothing; minigrad refuses with a message",
    ("var(correction=0)", "empty"): "PyTorch returns NaN for the variance of nothing; minigrad refuses",
}


def _compare(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _compare(a, b)
        return
    expected = theirs.detach().numpy()
    assert ours.shape == tuple(expected.shape)
    if expected.dtype.kind in "iub":
        assert ours.dtype == np.int64 or expected.dtype == bool
        np.testing.assert_array_equal(ours.data, expected)
    else:
        np.testing.assert_allclose(ours.data, expected, rtol=1e-10, atol=1e-12, equal_nan=True)


def _values(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out if o.dtype.kind == "f"] if hasattr(out[0], "dtype") else out
    return [out]


CASE_KINDS = [(name, kind) for name, (_, _, _, kinds) in CASES.items() for kind in kinds]


@pytest.mark.parametrize("name, kind", CASE_KINDS, ids=[f"{n}-{k}" for n, k in CASE_KINDS])
def test_forward_and_gradient_match_pytorch(name, kind):
    ours_fn, torch_fn, shape, _ = CASES[name]
    data = _inputs(kind, shape)
    x = mg.from_numpy(data, requires_grad=True)
    tx = torch.from_numpy(data).requires_grad_(True)
    ours, theirs = ours_fn(x), torch_fn(tx)
    _compare(ours, theirs)
    ours_values = [o for o in (ours if isinstance(ours, (tuple, list)) else [ours]) if o.dtype.kind == "f"]
    theirs_values = [t for t in (theirs if isinstance(theirs, (tuple, list)) else [theirs])
                     if t.dtype.is_floating_point]
    if not ours_values or not any(t.requires_grad for t in theirs_values):
        return
    total, torch_total = 0.0, 0.0
    for index, (o, t) in enumerate(zip(ours_values, theirs_values)):
        weights = np.cos(np.arange(o.data.size) * 0.9 + index).reshape(o.shape)
        total = total + (o * weights).sum()
        torch_total = torch_total + (t * torch.from_numpy(weights)).sum()
    if not isinstance(total, mg.Tensor) or not total.requires_grad:
        return
    total.backward()
    torch_total.backward()
    expected = tx.grad.numpy() if tx.grad is not None else np.zeros(data.shape)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")
@pytest.mark.parametrize("case, kind", list(DIFFERS), ids=[f"{c}-{k}" for c, k in DIFFERS])
def test_intended_differences(case, kind):
    ours_fn, torch_fn, shape, _ = CASES[case]
    data = _inputs(kind, shape)
    theirs = torch_fn(torch.from_numpy(data))
    assert torch.isnan(theirs).all()  # PyTorch's answer, which we choose not to give
    with pytest.raises(ValueError, match=r"(mean|var): "):
        ours_fn(mg.from_numpy(data))


# Bad input: (minigrad call, torch call, minigrad's error, torch's error, why they differ if they do)
X = np.arange(12.0).reshape(3, 4)
ERRORS = {
    "sum over a dim out of range": (lambda x: x.sum(dim=2), lambda x: x.sum(dim=2), IndexError, IndexError, ""),
    "unsqueeze out of range": (lambda x: x.unsqueeze(3), lambda x: x.unsqueeze(3), IndexError, IndexError, ""),
    "max over a dim out of range": (lambda x: x.max(5), lambda x: x.max(5), IndexError, IndexError, ""),
    "topk with k too large": (lambda x: x.topk(5), lambda x: x.topk(5), IndexError, RuntimeError,
                              "an index-like argument out of range is IndexError in minigrad everywhere"),
    "view to the wrong size": (lambda x: x.view(5, 2), lambda x: x.view(5, 2), ValueError, RuntimeError,
                               "minigrad raises ValueError for every bad argument value, as NumPy does"),
    "cat of mismatched shapes": (lambda x: mg.cat([x, x[:, :2]]), lambda x: torch.cat([x, x[:, :2]]), ValueError,
                                 RuntimeError, "as NumPy's concatenate"),
    "expand of a non-1 axis": (lambda x: x.expand(2, 4), lambda x: x.expand(2, 4), ValueError, RuntimeError,
                               "as NumPy's broadcast_to"),
    "clamp with neither bound": (lambda x: x.clamp(), lambda x: x.clamp(), ValueError, RuntimeError,
                                 "a missing argument value is ValueError in minigrad"),
    "one_hot of a float tensor": (lambda x: F.one_hot(x), lambda x: TF.one_hot(x), TypeError, RuntimeError,
                                  "a wrong dtype is TypeError in minigrad"),
    "one_hot of a class too large": (lambda x: F.one_hot(mg.tensor([3]), 2), lambda x: TF.one_hot(torch.tensor([3]), 2),
                                     ValueError, RuntimeError, "a bad value is ValueError in minigrad"),
    "conv2d with the wrong channels": (lambda x: F.conv2d(x.reshape(1, 1, 3, 4), mg.zeros(1, 2, 2, 2)),
                                       lambda x: TF.conv2d(x.reshape(1, 1, 3, 4),
                                                           torch.zeros(1, 2, 2, 2, dtype=torch.float64)),
                                       ValueError, RuntimeError, "a shape mismatch is ValueError in minigrad"),
    "softmax over a dim out of range": (lambda x: F.softmax(x, dim=3), lambda x: TF.softmax(x, dim=3), IndexError,
                                        IndexError, ""),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_raises_in_both(case):
    ours_fn, torch_fn, ours_error, torch_error, why = ERRORS[case]
    with pytest.raises(torch_error):
        torch_fn(torch.from_numpy(X.copy()))
    with pytest.raises(ours_error) as raised:
        ours_fn(mg.tensor(X))
    assert len(str(raised.value)) > 20  # a message, not a bare type
    assert (ours_error is torch_error) == (why == ""), why


def test_every_new_tensor_method_has_a_conformance_case():
    covered = " ".join(CASES)
    for method in ("sum", "mean", "var", "std", "prod", "amax", "max", "min", "argmax", "argmin", "logsumexp",
                   "softmax", "log_softmax", "sort", "topk", "unsqueeze", "squeeze", "permute", "transpose", "view",
                   "flatten", "expand", "repeat", "cat", "split", "chunk", "clamp", "sin", "cos", "erf",
                   "masked_fill", "gelu", "softplus", "layer_norm", "conv2d", "max_pool2d", "avg_pool2d",
                   "adaptive_avg_pool2d", "mse_loss", "l1_loss", "bce_with_logits"):
        assert method in covered, method
