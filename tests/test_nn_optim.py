"""Modules, optimisers and checkpoints, with PyTorch as the oracle when installed."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import functional as F


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(mg.tanh(self.hidden(x)))


def test_module_registers_parameters_buffers_and_children():
    model = TwoLayer()
    model.register_buffer("steps", mg.zeros(1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert [name for name, _ in model.named_buffers()] == ["steps"]
    assert [name for name, _ in model.named_children()] == ["hidden", "out"]
    assert [type(m).__name__ for m in model.modules()] == ["TwoLayer", "Linear", "Linear"]
    assert model.hidden.weight.shape == (8, 4)  # PyTorch's layout: (out_features, in_features)
    assert list(model.state_dict()) == ["steps"] + names  # own entries first, then children (as PyTorch)
    assert repr(model) == (
        "TwoLayer(\n  (hidden): Linear(in_features=4, out_features=8, bias=True)\n"
        "  (out): Linear(in_features=8, out_features=3, bias=True)\n)"
    )


def test_train_eval_and_zero_grad():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    assert model.training and model[0].training
    model.eval()
    assert not model.training and not model[0].training
    model.train()
    model(mg.randn(3, 2)).sum().backward()
    assert model[0].weight.grad is not None
    model.zero_grad()
    assert model[0].weight.grad is None


def test_hooks_run_and_handles_remove_them():
    layer = nn.Linear(3, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda module, args: calls.append("pre") or (args[0] * 0,))
    post = layer.register_forward_hook(lambda module, args, out: calls.append("post"))
    out = layer(mg.ones(1, 3))
    np.testing.assert_allclose(out.data, layer.bias.data[None, :])  # the pre-hook zeroed the input
    assert calls == ["pre", "post"]
    pre.remove()
    post.remove()
    layer(mg.ones(1, 3))
    assert calls == ["pre", "post"]


def test_load_state_dict_errors_use_pytorch_wording_and_change_nothing():
    model = TwoLayer()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = model.state_dict()
    state.pop("out.bias")
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "out.bias"'):
        model.load_state_dict(state)
    state = model.state_dict()
    state["extra.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra.weight"'):
        model.load_state_dict(state)
    state = model.state_dict()
    state["hidden.weight"] = np.zeros((4, 8))
    with pytest.raises(
        RuntimeError,
        match=r"size mismatch for hidden.weight: copying a param with shape \(4, 8\) from checkpoint, "
        r"the shape in current model is \(8, 4\)",
    ):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    missing, unexpected = model.load_state_dict({"extra": np.zeros(1)}, strict=False)
    assert unexpected == ["extra"] and len(missing) == 4


def test_save_and_load_round_trip_model_and_optimizer(tmp_path):
    model = TwoLayer()
    opt = optim.Adam(model.parameters(), lr=0.01)
    F.mse_loss(model(mg.randn(5, 4)), mg.zeros(5, 3)).backward()
    opt.step()
    mg.save(model.state_dict(), tmp_path / "model.npz")
    mg.save(opt.state_dict(), tmp_path / "opt.npz")
    fresh = TwoLayer()
    fresh.load_state_dict(mg.load(tmp_path / "model.npz"))
    for (name, a), (_, b) in zip(model.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.5)
    fresh_opt.load_state_dict(mg.load(tmp_path / "opt.npz"))
    assert fresh_opt.param_groups[0]["lr"] == 0.01
    assert fresh_opt.param_groups[0]["betas"] == (0.9, 0.999)
    first = next(iter(fresh_opt.state.values()))
    assert first["step"] == 1


def test_load_refuses_pickle(tmp_path):
    import pickle

    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps({"weight": np.zeros(2)}))
    with pytest.raises(ValueError, match="not a minigrad checkpoint"):
        mg.load(path)
    np.savez(tmp_path / "objects.npz", weight=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="refusing to load|no minigrad structure"):
        mg.load(tmp_path / "objects.npz")


def test_optimizer_validation_messages():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.SGD([p], lr=-0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameters"):
        optim.Adam([p], betas=(1.0, 0.9))


def test_sgd_rule_by_hand():
    p = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)
    grads = [np.array([0.5, 0.25]), np.array([-1.0, 2.0])]
    expected = p.data.copy()
    buffer = None
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
        d = g + 0.01 * expected
        buffer = d.copy() if buffer is None else 0.9 * buffer + d
        expected = expected - 0.1 * (d + 0.9 * buffer)
        np.testing.assert_allclose(p.data, expected, rtol=1e-15)


# -- PyTorch as the oracle ---------------------------------------------------------------------
def _torch_mlp_run(weights, x, y, steps, make_opt):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = make_opt(torch, params)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        h = torch.tanh(torch.nn.functional.linear(torch.tensor(x), params[0], params[1]))
        loss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(h, params[2], params[3]), torch.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in params]


def _minigrad_mlp_run(weights, x, y, steps, make_opt):
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    for param, w in zip(model.parameters(), weights):
        param.data = w.copy()
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(mg.tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.data for p in model.parameters()]


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9)),
        (
            lambda p: optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.1, weight_decay=1e-3),
            lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.8, dampening=0.1, weight_decay=1e-3),
        ),
        (lambda p: optim.Adam(p, lr=0.01, weight_decay=1e-4), lambda t, p: t.optim.Adam(p, lr=0.01, weight_decay=1e-4)),
    ],
    ids=["sgd-momentum", "sgd-dampening-decay", "adam"],
)
def test_mlp_training_matches_pytorch(ours, theirs):
    pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal(s) * 0.5 for s in [(16, 6), (16,), (3, 16), (3,)]]
    x = rng.standard_normal((32, 6))
    y = rng.integers(0, 3, 32)
    torch_losses, torch_weights = _torch_mlp_run(weights, x, y, 20, theirs)
    our_losses, our_weights = _minigrad_mlp_run(weights, x, y, 20, ours)
    np.testing.assert_allclose(our_losses, torch_losses, rtol=0, atol=1e-10)
    for ours_w, theirs_w in zip(our_weights, torch_weights):
        np.testing.assert_allclose(ours_w, theirs_w, rtol=0, atol=1e-10)
    assert our_losses[-1] < our_losses[0]


def test_linear_default_init_bounds_match_pytorch():
    layer = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound  # uses the whole range
