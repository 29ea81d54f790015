"""The catalogue of bad inputs: what a user might pass, and what they get back.

One entry per class of mistake: the area, what was tried, the call, the exception type and
the message it must carry. tests/test_bad_inputs.py runs every entry and checks that the
failed call changed no parameter or buffer; docs/reliability.md is generated from it
(`python -m tests.bad_inputs > docs/reliability.md`), so the table and the tests agree.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import functional as F

CASES: list = []


def case(area: str, tried: str, error: type, message: str):
    def register(fn):
        CASES.append({"area": area, "tried": tried, "call": fn, "error": error, "message": message})
        return fn

    return register


# A model and optimiser every case may touch; the test checks they are unchanged afterwards.
def make_world():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model.register_buffer("steps", mg.zeros(1))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    F.cross_entropy(model(mg.randn(5, 3)), np.arange(5) % 2).backward()
    opt.step()
    return model, opt


# -- engine -------------------------------------------------------------------------------------
@case("engine", "matmul of (3, 4) with (5, 2)", ValueError, r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned")
def _(model, opt, tmp):
    mg.randn(3, 4) @ mg.randn(5, 2)


@case("engine", "backward() of a non-scalar without gradient=", RuntimeError,
      r"only for scalar outputs; this output has shape \(4, 2\)")
def _(model, opt, tmp):
    model(mg.randn(4, 3)).backward()


@case("engine", "backward(gradient=) of the wrong shape", RuntimeError,
      r"backward: gradient has shape \(3,\) but the output has shape \(4, 2\)")
def _(model, opt, tmp):
    model(mg.randn(4, 3)).backward(gradient=mg.ones(3))


@case("engine", "second backward through a freed graph", RuntimeError, "retain_graph=True")
def _(model, opt, tmp):
    x = mg.randn(2, requires_grad=True)
    y = mg.exp(x).sum()
    y.backward()
    y.backward()


@case("engine", "requires_grad on integer data", TypeError, "only floating-point .* dtype int64")
def _(model, opt, tmp):
    mg.tensor([1, 2, 3], requires_grad=True)


@case("engine", "reshape to a different number of entries", ValueError,
      r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 entries\) into shape \(4, 2\)")
def _(model, opt, tmp):
    mg.randn(2, 3).reshape(4, 2)


@case("engine", "sum over an axis that does not exist", IndexError,
      r"sum: axis 2 is out of range for a tensor of 2 dimension\(s\)")
def _(model, opt, tmp):
    mg.randn(2, 3).sum(axis=2)


@case("engine", "transpose with axes that are not a permutation", ValueError,
      "transpose: axes .* are not a permutation")
def _(model, opt, tmp):
    mg.randn(2, 3).transpose(0, 0)


@case("engine", "broadcast_to an incompatible shape", ValueError,
      r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)")
def _(model, opt, tmp):
    mg.broadcast_to(mg.randn(2, 3), (4, 3))


@case("engine", "index out of range", IndexError, r"getitem: index .* is invalid for a tensor of shape \(3,\)")
def _(model, opt, tmp):
    mg.randn(3)[5]


@case("engine", "concatenate tensors whose other axes differ", ValueError,
      "concatenate: shapes .* do not match outside axis 0")
def _(model, opt, tmp):
    mg.concatenate([mg.randn(2, 3), mg.randn(2, 4)])


@case("engine", "stack tensors of different shapes", ValueError, "stack: all tensors must have the same shape")
def _(model, opt, tmp):
    mg.stack([mg.randn(2), mg.randn(3)])


@case("engine", "singular values of a vector", ValueError, r"svdvals: needs a matrix .* got shape \(3,\)")
def _(model, opt, tmp):
    mg.svdvals(mg.randn(3))


@case("engine", "SVD of symbolic data", TypeError, "svdvals: has no symbolic form")
def _(model, opt, tmp):
    mg.svdvals(mg.symbols("w", (2, 2)))


@case("engine", "singular vectors of symbolic data", TypeError, "svd_u: has no symbolic form")
def _(model, opt, tmp):
    mg.ops.linalg.svd_u(mg.symbols("w", (2, 2)))


@case("engine", "mean over an empty axis", ValueError, "mean: cannot average over an empty axis")
def _(model, opt, tmp):
    mg.zeros(0, 3).mean(axis=0)


@case("engine", "in-place change of a leaf that requires grad", RuntimeError,
      "in-place change of a leaf tensor that requires grad")
def _(model, opt, tmp):
    weight = model[0].weight
    weight += 1.0


@case("engine", "manual_seed with a negative seed", ValueError, "manual_seed: seed must be a non-negative int")
def _(model, opt, tmp):
    mg.manual_seed(-1)


# -- losses and layers ----------------------------------------------------------------------------
@case("nn", "cross_entropy with a class out of range", IndexError, r"cross_entropy: target classes must be in \[0, 1\]")
def _(model, opt, tmp):
    F.cross_entropy(model(mg.randn(2, 3)), np.array([0, 2]))


@case("nn", "cross_entropy with a target of the wrong length", ValueError,
      r"cross_entropy: class-index target must have shape \(2,\)")
def _(model, opt, tmp):
    F.cross_entropy(model(mg.randn(2, 3)), np.array([0, 1, 1]))


@case("nn", "mse_loss of different shapes", ValueError,
      r"mse_loss: input shape \(2, 2\) and target shape \(2,\) differ")
def _(model, opt, tmp):
    F.mse_loss(model(mg.randn(2, 3)), mg.zeros(2))


@case("nn", "Linear with zero in_features", ValueError, "Linear: in_features must be a positive int, got 0")
def _(model, opt, tmp):
    nn.Linear(0, 3)


@case("nn", "a batch of the wrong width into Linear", ValueError,
      r"linear: input of shape \(2, 5\) does not fit a weight of shape \(4, 3\)")
def _(model, opt, tmp):
    model(mg.randn(2, 5))


@case("nn", "register_parameter with a plain tensor", TypeError, "register_parameter: 'w' must be a Parameter or None")
def _(model, opt, tmp):
    model.register_parameter("w", mg.randn(2))


@case("nn", "register_buffer with a dotted name", KeyError,
      "register_buffer: name 'a.b' must be non-empty and contain no '.'")
def _(model, opt, tmp):
    model.register_buffer("a.b", mg.zeros(1))


@case("nn", "Sequential of something that is not a Module", TypeError,
      "Sequential: argument 1 is a function, not a Module")
def _(model, opt, tmp):
    nn.Sequential(nn.Tanh(), lambda x: x)


@case("nn", "train() with a non-bool mode", TypeError, "train: mode must be a bool, got str")
def _(model, opt, tmp):
    model.train("no")


@case("nn", "load_state_dict missing a key", RuntimeError, r'Missing key\(s\) in state_dict: "2.bias"')
def _(model, opt, tmp):
    state = model.state_dict()
    state["0.weight"] = state["0.weight"] * 0  # would change the model if applied
    del state["2.bias"]
    model.load_state_dict(state)


@case("nn", "load_state_dict with an unexpected key", RuntimeError, r'Unexpected key\(s\) in state_dict: "3.weight"')
def _(model, opt, tmp):
    state = model.state_dict()
    state["0.weight"] = state["0.weight"] * 0
    state["3.weight"] = np.zeros(2)
    model.load_state_dict(state)


@case("nn", "load_state_dict with a wrong shape", RuntimeError,
      r"size mismatch for 0.weight: copying a param with shape \(3, 4\)")
def _(model, opt, tmp):
    state = model.state_dict()
    state["2.bias"] = state["2.bias"] + 1
    state["0.weight"] = np.zeros((3, 4))
    model.load_state_dict(state)


# -- optimisers ---------------------------------------------------------------------------------------
@case("optim", "SGD with a negative learning rate", ValueError, "SGD: Invalid learning rate: -1")
def _(model, opt, tmp):
    optim.SGD(model.parameters(), lr=-1)


@case("optim", "the same parameter given twice", ValueError, "SGD: parameter 1 .* appears more than once")
def _(model, opt, tmp):
    weight = model[0].weight
    optim.SGD([weight, weight], lr=0.1)


@case("optim", "a single tensor instead of a list", TypeError, "params must be an iterable of tensors")
def _(model, opt, tmp):
    optim.Adam(model[0].weight)


@case("optim", "Adam with a beta of 1", ValueError, r"Adam: Invalid beta parameters: \(1.0, 0.999\)")
def _(model, opt, tmp):
    optim.Adam(model.parameters(), betas=(1.0, 0.999))


@case("optim", "Adam with a negative eps", ValueError, "Adam: Invalid epsilon value: -1e-08")
def _(model, opt, tmp):
    optim.Adam(model.parameters(), eps=-1e-8)


@case("optim", "loading an optimiser state for other parameters", ValueError,
      r"SGD.load_state_dict: the saved groups hold \[1\] parameters, this optimiser holds \[4\]")
def _(model, opt, tmp):
    other = optim.SGD([nn.Parameter(np.zeros(2))], lr=0.5)
    opt.load_state_dict(other.state_dict())


# -- norms ---------------------------------------------------------------------------------------------
@case("norms", "spectral_norm registered twice on one weight", RuntimeError,
      "Cannot register two spectral_norm hooks on the same parameter weight")
def _(model, opt, tmp):
    import norms

    layer = nn.Linear(3, 3)
    norms.spectral_norm(layer)
    norms.spectral_norm(layer)


@case("norms", "spectral_norm with n_power_iterations=0", ValueError,
      "Expected n_power_iterations to be positive, but got n_power_iterations=0")
def _(model, opt, tmp):
    import norms

    norms.spectral_norm(model[0], n_power_iterations=0)


@case("norms", "remove_spectral_norm where there is none", ValueError, "spectral_norm of 'weight' not found in")
def _(model, opt, tmp):
    import norms

    norms.remove_spectral_norm(model[0])


@case("norms", "weight_norm with dim out of range", IndexError,
      "weight_norm: dim 2 is out of range for a weight with 2 dimension")
def _(model, opt, tmp):
    import norms

    norms.weight_norm(model[0], dim=2)


@case("norms", "matrix_norm of a vector", ValueError, "The input tensor A must have at least 2 dimensions")
def _(model, opt, tmp):
    import norms

    norms.matrix_norm(model[0].bias, "fro")


@case("norms", "norm with ord of a 3-D tensor and no axis", ValueError,
      "If dim is not specified but ord is, the input must be 1D or 2D. Got 3D.")
def _(model, opt, tmp):
    import norms

    norms.norm(mg.zeros(2, 2, 2), ord=2)


@case("norms", "matrix_norm with an unsupported ord", ValueError, "linalg.matrix_norm: Order 3 not supported.")
def _(model, opt, tmp):
    import norms

    norms.matrix_norm(model[0].weight, 3)


@case("norms", "BatchNorm1d on a batch of one in training", ValueError,
      "Expected more than 1 value per channel when training")
def _(model, opt, tmp):
    import norms

    norms.BatchNorm1d(4)(model[0](mg.randn(1, 3)))


@case("norms", "spectral_norm of an all-zero weight", ValueError, "sigma = u\\^T W v is 0.0")
def _(model, opt, tmp):
    import norms

    layer = nn.Linear(3, 2)
    layer.weight.data = np.zeros((2, 3))
    norms.spectral_norm(layer)
    layer(mg.ones(3))


# -- files ------------------------------------------------------------------------------------------------
@case("save/load", "loading a pickle renamed to .npz", ValueError, "not a minigrad checkpoint")
def _(model, opt, tmp):
    import pickle

    path = tmp / "evil.npz"
    path.write_bytes(pickle.dumps({"x": 1}))
    model.load_state_dict(mg.load(path))


@case("save/load", "saving an object that is not arrays/numbers", TypeError, "save: cannot store a Sequential")
def _(model, opt, tmp):
    mg.save({"model": model}, tmp / "model.npz")


@case("save/load", "loading a file that does not exist", FileNotFoundError, "load: no such file")
def _(model, opt, tmp):
    mg.load(tmp / "missing.npz")


# -- command line ---------------------------------------------------------------------------------------
@case("CLI", "minigrad graph with an unknown example", SystemExit,
      "exit code 2: minigrad graph: no example named 'nosuch'; choose one of")
def _(model, opt, tmp):
    import contextlib
    import io

    from norms.app import cli

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(["graph", "nosuch", "--out", str(tmp / "x.svg")])
    raise SystemExit(f"exit code {code}: {stderr.getvalue().strip()}")


@case("CLI", "minigrad with an unknown command", SystemExit, "2")
def _(model, opt, tmp):
    import contextlib
    import io

    from norms.app import cli

    with contextlib.redirect_stderr(io.StringIO()):
        cli.main(["nosuch"])


def markdown() -> str:
    """docs/reliability.md's table of bad inputs, from the catalogue above."""
    import re

    lines = [
        "| # | area | what was tried | error | message (checked by tests/test_bad_inputs.py) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, entry in enumerate(CASES, 1):
        message = re.sub(r"\\(.)", r"\1", entry["message"]).replace("|", "\\|")
        lines.append(
            f"| {number} | {entry['area']} | {entry['tried']} | `{entry['error'].__name__}` | {message} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
