"""A minigrad model moves to PyTorch (and back) through a safetensors file, and on to DDP.

Oracle tests: they need PyTorch 2.13 and skip without it.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="PyTorch (the optional oracle) is not installed")
from safetensors.torch import load_file, save_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def network(m):
    """One model using every layer kind with parameters or buffers."""
    return m.Sequential(
        m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
        m.ConvTranspose2d(4, 3, 2, stride=2), m.GELU(),
        m.Flatten(), m.LayerNorm(48), m.Linear(48, 5),
    )


def _outputs_agree(ours, theirs, x):
    ours.eval(), theirs.eval()
    with mg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(mg.tensor(x)).data, theirs(torch.tensor(x)).numpy(), rtol=1e-10, atol=1e-12)


def _train_a_little(model):
    optimizer = mg.optim.SGD(model.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((6, 1, 4, 4))
    for _ in range(2):  # moves the weights and the batch-norm statistics off their start
        optimizer.zero_grad()
        (model(mg.tensor(x)) ** 2).mean().backward()
        optimizer.step()


def test_a_minigrad_checkpoint_loads_into_the_torch_module_unchanged(tmp_path):
    mg.manual_seed(0)
    ours = network(nn)
    _train_a_little(ours)
    mg.save(ours.state_dict(), tmp_path / "model.safetensors")
    state = load_file(str(tmp_path / "model.safetensors"))
    theirs = network(torch.nn).double()
    assert sorted(state) == sorted(theirs.state_dict())  # (a safetensors file lists its names sorted)
    for key, value in theirs.state_dict().items():
        assert state[key].dtype == value.dtype and state[key].shape == value.shape, key
    theirs.load_state_dict(state, strict=True)
    assert int(theirs[1].num_batches_tracked) == 2
    _outputs_agree(ours, theirs, np.random.default_rng(1).standard_normal((3, 1, 4, 4)))


def test_a_torch_checkpoint_loads_into_the_minigrad_model(tmp_path):
    torch.manual_seed(0)
    theirs = network(torch.nn).double()
    theirs.train()
    theirs(torch.randn(6, 1, 4, 4, dtype=torch.float64))  # batch-norm statistics off their start
    save_file(theirs.state_dict(), str(tmp_path / "torch.safetensors"))
    ours = network(nn)
    ours.load_state_dict(mg.load(tmp_path / "torch.safetensors"))
    _outputs_agree(ours, theirs, np.random.default_rng(2).standard_normal((3, 1, 4, 4)))


def test_training_continues_under_distributed_data_parallel(tmp_path):
    spec = importlib.util.spec_from_file_location("graduate_to_pytorch", ROOT / "docs" / "graduate_to_pytorch.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    results = script.run(tmp_path, minigrad_steps_count=10, ddp_steps=4)
    assert len(results["ddp_continued"]) == 4
    assert results["max_difference"] < 1e-10, results
    losses = results["minigrad_training"] + results["minigrad_continued"]
    assert losses[-1] < losses[0] / 2  # it did learn
