"""PyTorch's tensor API beside NumPy's: each line of a PyTorch learner's code, run here.

Numbers are compared with PyTorch 2.13 when it is installed (the oracle), and with exact
values worked out by hand otherwise.
"""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad import functional as F

ORACLE = "PyTorch (the optional oracle) is not installed"
X = [[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]


def _torch():
    return pytest.importorskip("torch", reason=ORACLE)


def test_max_with_dim_unpacks_into_values_and_indices():
    x = mg.tensor(X)
    vals, idx = x.max(1)
    assert vals.tolist() == [5.0, 6.0] and idx.tolist() == [1, 2] and idx.dtype == np.int64
    out = x.max(dim=0, keepdim=True)
    assert out.values.tolist() == [[4.0, 5.0, 6.0]] and out.indices.tolist() == [[1, 0, 1]]
    assert type(out).__name__ == "max"
    assert x.max(axis=1).tolist() == [5.0, 6.0]  # NumPy's spelling: values only
    assert x.max().item() == 6.0
    vals, idx = x.min(1)
    assert vals.tolist() == [1.0, 2.0] and idx.tolist() == [0, 1]


def test_max_with_dim_sends_the_gradient_to_the_picked_entry():
    x = mg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0]]  # the first of the tied maxima, as PyTorch
    y = mg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    y.amax(1).sum().backward()
    assert y.grad.tolist() == [[0.0, 0.5, 0.5]]  # amax shares among ties


def test_size_is_numpys_count_and_pytorchs_shape():
    x = mg.zeros(2, 3)
    assert x.size == 6 and x.size * 2 == 12
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.numel() == 6 and x.dim() == 2
    with pytest.raises(IndexError, match=r"size: dim 2 is out of range for a tensor of shape \(2, 3\)"):
        x.size(2)


@pytest.mark.parametrize("call, expected", [
    (lambda x: x.sum(dim=1), [9.0, 12.0]),
    (lambda x: x.sum(axis=1), [9.0, 12.0]),
    (lambda x: x.sum(1, keepdim=True), [[9.0], [12.0]]),
    (lambda x: x.mean(dim=0), [2.5, 3.5, 4.5]),
    (lambda x: x.mean(dim=(0, 1)), 3.5),
    (lambda x: mg.mean(x, dim=1), [3.0, 4.0]),
    (lambda x: x.prod(dim=1), [15.0, 48.0]),
    (lambda x: x.logsumexp(dim=0).exp(), [math.e + math.e**4, math.e**5 + math.e**2, math.e**3 + math.e**6]),
])
def test_dim_and_keepdim_on_reductions(call, expected):
    np.testing.assert_allclose(call(mg.tensor(X)).data, expected, rtol=1e-14)


def test_giving_both_names_is_an_error():
    with pytest.raises(TypeError, match="sum: got dim=1 and axis=0; they are one argument"):
        mg.tensor(X).sum(dim=1, axis=0)


def test_softmax_takes_dim():
    x = mg.tensor(X)
    np.testing.assert_allclose(F.softmax(x, dim=-1).sum(dim=-1).data, [1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(mg.nn.functional.log_softmax(x, dim=0).data,
                               np.array(X) - np.log(np.exp(X).sum(axis=0)), rtol=1e-14)
    np.testing.assert_allclose(x.softmax(dim=1).data, F.softmax(x, axis=1).data, rtol=0)


def test_var_and_std_follow_the_spelling():
    x = mg.tensor([1.0, 2.0, 3.0, 6.0])  # mean 3, squared deviations sum to 14
    assert x.var().item() == pytest.approx(14 / 3, rel=1e-15)          # PyTorch: correction 1
    assert x.var(dim=0).item() == pytest.approx(14 / 3, rel=1e-15)
    assert x.var(correction=0).item() == pytest.approx(14 / 4, rel=1e-15)
    assert x.var(unbiased=False).item() == pytest.approx(14 / 4, rel=1e-15)
    assert x.var(axis=0).item() == pytest.approx(14 / 4, rel=1e-15)    # NumPy: ddof 0
    assert x.var(ddof=1).item() == pytest.approx(14 / 3, rel=1e-15)
    assert x.std().item() == pytest.approx(math.sqrt(14 / 3), rel=1e-15)
    assert x.std(axis=0).item() == pytest.approx(math.sqrt(14 / 4), rel=1e-15)
    with pytest.raises(TypeError, match="var: got ddof= and correction="):
        x.var(ddof=0, correction=1)


def test_shape_methods():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.unsqueeze(0).shape == (1, 2, 3) and x.unsqueeze(-1).shape == (2, 3, 1)
    assert x.unsqueeze(0).squeeze().shape == (2, 3) and x.unsqueeze(1).squeeze(1).shape == (2, 3)
    assert x.squeeze(0).shape == (2, 3)  # not of length 1: unchanged, as in PyTorch
    assert x.permute(1, 0).tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert x.view(3, 2).tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]] and x.view(-1).shape == (6,)
    assert x.unsqueeze(0).flatten().shape == (6,) and x.unsqueeze(0).flatten(1).shape == (1, 6)
    assert x.unsqueeze(1).expand(2, 4, 3).shape == (2, 4, 3) and x.unsqueeze(1).expand(-1, 2, -1).shape == (2, 2, 3)
    assert x.repeat(2, 1).tolist() == np.tile(np.arange(6.0).reshape(2, 3), (2, 1)).tolist()
    assert x.repeat(1, 2, 2).shape == (1, 4, 6)
    assert x.transpose(0, 1).shape == (3, 2)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 4 is out of range"):
        x.unsqueeze(4)
    # gradients flow back through each: repeat sums over the copies
    x.repeat(2, 3).sum().backward()
    assert x.grad.tolist() == [[6.0] * 3] * 2


def test_clamp_sin_cos_argmax():
    x = mg.tensor([-2.0, -1.0, 0.5, 1.0, 3.0], requires_grad=True)
    y = x.clamp(-1.0, 1.0)
    assert y.tolist() == [-1.0, -1.0, 0.5, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # ends included, as PyTorch
    assert x.clamp(min=0.0).tolist() == [0.0, 0.0, 0.5, 1.0, 3.0]
    np.testing.assert_allclose(x.sin().data, np.sin(x.data), rtol=0)
    np.testing.assert_allclose(x.cos().data, np.cos(x.data), rtol=0)
    assert x.argmax().item() == 4 and x.argmin().item() == 0
    m = mg.tensor(X)
    assert m.argmax(dim=1).tolist() == [1, 2] and m.argmin(1, keepdim=True).tolist() == [[0], [1]]


def test_sort_and_topk():
    x = mg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    values, indices = x.sort(dim=1)
    assert values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]] and indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    values, indices = x.sort(descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0], [5.0, 4.0, 0.0]]
    top = x.topk(2, dim=1)
    assert top.values.tolist() == [[3.0, 2.0], [5.0, 4.0]] and top.indices.tolist() == [[0, 2], [1, 2]]
    top.values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]


def test_prod_gradient_is_exact_at_zero():
    x = mg.tensor([2.0, 0.0, 3.0, 5.0, 7.0], requires_grad=True)
    x.prod().backward()
    assert x.prod().item() == 0.0 and x.grad.tolist() == [0.0, 210.0, 0.0, 0.0, 0.0]


def test_cat_split_chunk():
    a, b = mg.ones(2, 2), mg.zeros(1, 2)
    assert mg.cat([a, b]).shape == (3, 2) and mg.cat([a, a], dim=1).shape == (2, 4)
    x = mg.tensor(np.arange(10.0))
    assert [p.tolist() for p in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.shape for p in x.split([3, 7])] == [(3,), (7,)]
    assert [p.shape for p in x.chunk(3)] == [(4,), (4,), (2,)]
    with pytest.raises(ValueError, match=r"split: sizes \[3, 3\] must be non-negative and add up to 10"):
        x.split([3, 3])


def test_masked_fill_and_one_hot():
    x = mg.tensor(X, requires_grad=True)
    filled = x.masked_fill(x > 3.0, 0.0)
    assert filled.tolist() == [[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]]
    filled.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    assert mg.nn.functional.one_hot(mg.tensor([0, 2, 1]), 3).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert mg.nn.functional.one_hot(mg.tensor([1, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match="one_hot: class values must be smaller than num_classes=2, got 3"):
        mg.nn.functional.one_hot(mg.tensor([1, 3]), 2)


def test_in_place_methods_follow_pytorchs_rules():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: in-place change of a leaf tensor that requires grad"):
        w.add_(1.0)
    assert w.tolist() == [1.0, 2.0]
    with mg.no_grad():
        w.add_(1.0).mul_(2.0).sub_(1.0, alpha=2).div_(2.0)
    assert w.tolist() == [1.0, 2.0]  # ((w + 1) * 2 - 2 * 1) / 2
    with mg.no_grad():
        w.clamp_(max=1.5)
        assert w.tolist() == [1.0, 1.5]
        w.copy_(mg.tensor([7.0, 8.0]))
        assert w.tolist() == [7.0, 8.0]
        w.fill_(3.0)
        assert w.tolist() == [3.0, 3.0]
        w.zero_()
    assert w.tolist() == [0.0, 0.0]


def test_in_place_change_of_a_saved_tensor_makes_backward_raise():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with mg.no_grad():
        w.mul_(3.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_backward_on_a_one_element_tensor():
    a = mg.tensor([[1.0, 2.0]], requires_grad=True)
    b = mg.tensor([[3.0], [4.0]], requires_grad=True)
    (a @ b).backward()
    assert a.grad.tolist() == [[3.0, 4.0]] and b.grad.tolist() == [[1.0], [2.0]]


def test_int_and_format():
    t = mg.tensor(2.75)
    assert (int(t) == 2 and f"{t:.2f}" == "2.75" and f"{mg.tensor(3.0)}" == "3.0"
            and f"{mg.tensor([1.0])}" == "tensor([1.])")
    with pytest.raises(TypeError, match=r"format: spec '.2f' applies to a 0-d tensor; this one has shape \(2,\)"):
        f"{mg.tensor([1.0, 2.0]):.2f}"


def test_numpy_functions_on_tensors():
    x = mg.tensor(X, requires_grad=True)
    total = np.sum(x)
    assert isinstance(total, mg.Tensor) and total.item() == 21.0
    assert np.mean(x, axis=0).tolist() == [2.5, 3.5, 4.5]
    np.exp(x).sum().backward()  # the graph is kept
    np.testing.assert_allclose(x.grad.data, np.exp(X), rtol=1e-15)
    assert np.allclose(x, X)  # a yes/no answer needs no gradient
    with pytest.raises(TypeError, match="numpy.median: minigrad has no counterpart"):
        np.median(x)
    assert np.median(x.detach()) == 3.5
    with pytest.raises(TypeError, match="numpy.sum: the argument out= is not supported|sum: out="):
        np.sum(x, out=np.zeros(()))
    arr = np.ones(3)
    assert isinstance(arr * mg.tensor([1.0, 2.0, 3.0]), mg.Tensor)


def test_manual_update_through_data():
    p = nn.Parameter(np.array([1.0, 2.0]))
    p.grad = mg.tensor([10.0, 20.0])
    before = p._version
    p.data -= 0.1 * p.grad
    assert p.tolist() == [0.0, 0.0] and p._version > before
    d = p.data
    d += mg.tensor([1.0, 1.0])  # a data view changed in place changes its tensor, as in PyTorch
    assert p.tolist() == [1.0, 1.0]


def test_optimisers_skip_frozen_parameters():
    frozen = nn.Parameter(np.ones(2), requires_grad=False)
    live = nn.Parameter(np.ones(2))
    opt = mg.optim.SGD([frozen, live], lr=0.5)
    (live * 2.0).sum().backward()
    opt.step()
    assert frozen.tolist() == [1.0, 1.0] and live.tolist() == [0.0, 0.0]


def test_against_pytorch():
    torch = _torch()
    data = np.random.default_rng(0).standard_normal((3, 4, 5))
    x, t = mg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    pairs = [
        (x.sum(dim=1), t.sum(dim=1)), (x.mean(dim=-1, keepdim=True), t.mean(dim=-1, keepdim=True)),
        (x.var(dim=1), t.var(dim=1)), (x.std(dim=(0, 2)), t.std(dim=(0, 2))),
        (x.max(2).values, t.max(2).values), (x.min(dim=0).values, t.min(dim=0).values),
        (x.prod(dim=2), t.prod(dim=2)), (x.clamp(-0.5, 0.5), t.clamp(-0.5, 0.5)),
        (x.sin() * x.cos(), t.sin() * t.cos()), (x.permute(2, 0, 1), t.permute(2, 0, 1)),
        (x.sort(dim=1).values, t.sort(dim=1).values), (x.topk(3, dim=2).values, t.topk(3, dim=2).values),
        (F.softmax(x, dim=1), torch.softmax(t, dim=1)), (x.logsumexp(dim=2), t.logsumexp(dim=2)),
        (x.repeat(1, 2, 1), t.repeat(1, 2, 1)), (x.flatten(1), t.flatten(1)),
    ]
    total_mg, total_torch = 0.0, 0.0
    for index, (mine, theirs) in enumerate(pairs):
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=str(index))
        weights = np.cos(np.arange(mine.data.size)).reshape(mine.shape)
        total_mg = total_mg + (mine * weights).sum()
        total_torch = total_torch + (theirs * torch.tensor(weights)).sum()
    assert [i.tolist() for i in x.max(2)[1:]] == [t.max(2).indices.tolist()]
    total_mg.backward()
    total_torch.backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)


# Every composed op of this file, checked against central differences (no oracle needed).
NF = mg.nn.functional
COMPOSED = {
    "max(dim) values": (lambda x: x.max(1).values, (3, 4)),
    "min(dim, keepdim) values": (lambda x: x.min(0, keepdim=True).values, (3, 4)),
    "sort values": (lambda x: x.sort(dim=0, descending=True).values, (3, 4)),
    "topk values": (lambda x: x.topk(2, dim=1).values, (3, 4)),
    "prod over a dim": (lambda x: x.prod(dim=1), (3, 5)),
    "prod of all": (lambda x: x.prod(), (2, 3)),
    "std with correction": (lambda x: x.std(dim=0), (4, 3)),
    "var with ddof": (lambda x: x.var(axis=1, ddof=0), (4, 3)),
    "clamp": (lambda x: x.clamp(-0.4, 0.3), (3, 4)),
    "masked_fill": (lambda x: x.masked_fill(np.eye(3, 4, dtype=bool), 2.0), (3, 4)),
    "repeat": (lambda x: x.repeat(2, 1, 3), (3, 2)),
    "expand": (lambda x: x.unsqueeze(0).expand(4, -1, -1), (3, 2)),
    "split and cat": (lambda x: mg.cat(list(x.split([1, 3], dim=1))[::-1], dim=1), (2, 4)),
    "chunk": (lambda x: x.chunk(2, dim=0)[1] * 2.0, (5, 2)),
    "logsumexp(dim)": (lambda x: x.logsumexp(dim=1, keepdim=True), (3, 4)),
    "gelu": (lambda x: NF.gelu(x), (3, 4)),
    "gelu tanh": (lambda x: NF.gelu(x, approximate="tanh"), (3, 4)),
    "softplus": (lambda x: NF.softplus(x * 5.0, beta=0.5, threshold=3.0), (3, 4)),
    "layer_norm": (lambda x: NF.layer_norm(x, 4), (3, 4)),
    "batch_norm (training)": (lambda x: NF.batch_norm(x, None, None, training=True), (4, 3, 2, 2)),
    "max_pool2d": (lambda x: NF.max_pool2d(x, 2, stride=1, padding=1), (1, 2, 3, 3)),
    "avg_pool2d": (lambda x: NF.avg_pool2d(x, 2, padding=1, count_include_pad=False), (1, 2, 3, 3)),
    "adaptive_avg_pool2d": (lambda x: NF.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    "conv1d": (lambda x: NF.conv1d(x, x[:2, :, :2] * 1.0, stride=2, padding=1), (2, 3, 5)),
    "l1_loss": (lambda x: NF.l1_loss(x, mg.tensor(np.full((3, 4), 0.05))), (3, 4)),
    "cross_entropy with smoothing and ignore": (
        lambda x: NF.cross_entropy(x, np.array([0, 3, 1]), ignore_index=1, label_smoothing=0.2), (3, 4)),
    "nll_loss weighted": (
        lambda x: NF.nll_loss(x, np.array([2, 0, 2]), weight=mg.tensor([1.0, 2.0, 0.5, 1.0])), (3, 4)),
    "bce_with_logits": (
        lambda x: NF.binary_cross_entropy_with_logits(x, mg.tensor(np.linspace(0, 1, 12).reshape(3, 4)),
                                                      pos_weight=mg.tensor([1.0, 2.0, 3.0, 0.5])), (3, 4)),
}


@pytest.mark.parametrize("case", list(COMPOSED))
def test_composed_op_gradients_match_central_differences(case):
    from minigrad.verification.gradcheck import check_gradients

    fn, shape = COMPOSED[case]
    data = np.random.default_rng(7).standard_normal(shape)
    result = check_gradients(fn, (mg.tensor(data, requires_grad=True),), atol=1e-7, rtol=1e-6, name=case)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-6


def test_module_level_functions_take_dim():
    x = mg.tensor(X)
    values, indices = mg.max(x, dim=1)
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2]
    assert mg.min(x, dim=0, keepdim=True).values.tolist() == [[1.0, 2.0, 3.0]]
    assert mg.max(x, 1).tolist() == [5.0, 6.0]  # positional: NumPy's axis, values only
    assert mg.sum(x, dim=1, keepdim=True).tolist() == [[9.0], [12.0]]
    assert mg.mean(x, dim=0).tolist() == [2.5, 3.5, 4.5] and mg.std(x, dim=1).tolist() == [2.0, 2.0]
    assert mg.prod(x, dim=1).tolist() == [15.0, 48.0] and mg.argmax(x, dim=1).tolist() == [1, 2]
    with pytest.raises(TypeError, match="sum: got dim=1 and axis=0"):
        mg.sum(x, 0, dim=1)


def test_data_views_are_forgotten_when_they_go():
    from minigrad.tensor import _VIEW_OWNERS

    p = nn.Parameter(np.ones(3))
    before = len(_VIEW_OWNERS)
    for _ in range(100):
        p.data.sum()
    assert len(_VIEW_OWNERS) <= before + 1
