"""The spectral-norm GAN experiment (norms.app.gan and `minigrad gan`).

Runtime: these tests train fewer seeds and steps than `minigrad gan --quick` (which trains
5 seeds x 1500 steps per arm): the Lipschitz test 2 seeds x 400 steps per arm, the command
2 seeds x 60 steps. The bound they check holds at every step by construction of the maths,
so a short run tests it as well as a long one; the quick run's own numbers are in gan.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from norms.app import gan

ROOT = Path(__file__).resolve().parents[1]
ORACLE = "PyTorch (the optional oracle) is not installed"


# ---------------------------------------------------------------------------------------
# Metrics on samples whose answer is known by construction
# ---------------------------------------------------------------------------------------
def test_ring_centres_lie_on_the_circle_of_radius_two():
    centres = gan.ring_centres()
    assert centres.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(centres, axis=1), 2.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(centres[2], [0.0, 2.0], atol=1e-15)


def test_ring_metrics_counts_modes_and_high_quality_samples():
    centres = gan.ring_centres()
    rng = np.random.default_rng(0)
    offsets = rng.normal(size=(200, 2))
    offsets *= (0.05 / np.linalg.norm(offsets, axis=1))[:, None]   # 0.05 < 3 * 0.02: high quality
    samples = [centres[0] + offsets[:40], centres[3] + offsets[40:60],   # 40 and exactly 20: covered
               centres[5] + offsets[60:79],                              # 19: below the threshold
               centres[6] + 0.07 * np.array([[1.0, 0.0]]).repeat(30, 0),  # 0.07 > 0.06: not high quality
               np.zeros((11, 2))]                                         # the centre of the ring
    metrics = gan.ring_metrics(np.concatenate(samples))
    assert metrics["modes"] == 2
    assert metrics["per_mode"] == [40, 0, 0, 20, 0, 19, 0, 0]
    assert metrics["high_quality"] == pytest.approx(79 / 120, abs=1e-15)


def test_a_perfect_sampler_covers_all_eight_modes():
    metrics = gan.ring_metrics(gan.sample_ring(2500, np.random.default_rng(1)))
    assert metrics["modes"] == 8
    # A disc of 3 std holds 1 - exp(-9/2) = 98.89 % of a 2-D Gaussian; the binomial spread of
    # that share over 2500 samples is 0.21 %, so 3 spreads are allowed.
    assert metrics["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=3 * 0.0021)


# ---------------------------------------------------------------------------------------
# The Lipschitz measurement and its bound
# ---------------------------------------------------------------------------------------
def test_lipschitz_of_a_linear_discriminator_is_its_largest_singular_value():
    mg.manual_seed(3)
    layer = nn.Linear(2, 1)
    check = gan.lipschitz_check(nn.Sequential(layer), np.random.default_rng(0).normal(size=(7, 2)))
    norm = float(np.linalg.norm(layer.weight.data))
    assert check["measured"] == pytest.approx(norm, rel=1e-14)
    assert check["bound"] == pytest.approx(norm, rel=1e-14)


def test_lipschitz_check_leaves_spectral_norm_buffers_and_mode_alone():
    config = replace(gan.QUICK_RING, hidden=8)
    discriminator = gan.make_ring_discriminator(config, spectral=True)
    discriminator(mg.tensor(np.ones((3, 2))))   # one training forward: u, v iterated once
    before = {key: np.array(value) for key, value in discriminator.state_dict().items()}
    gan.lipschitz_check(discriminator, np.random.default_rng(0).normal(size=(5, 2)))
    assert discriminator.training
    for key, value in discriminator.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


@pytest.fixture(scope="module")
def short_quick_runs():
    """The quick configuration with 400 steps (evaluated every 50) and 2 seeds per arm."""
    config = replace(gan.QUICK_RING, steps=400, eval_every=50)
    return gan.run_ring(2, config), config


def test_measured_lipschitz_stays_below_the_product_of_sigmas_throughout_training(short_quick_runs):
    runs, config = short_quick_runs
    for arm, histories in runs.items():
        for history in histories:
            assert history["eval_steps"] == list(range(0, config.steps + 1, config.eval_every))
            for step, measured, bound in zip(history["eval_steps"], history["lipschitz"], history["bound"]):
                assert 0 < measured <= bound * (1 + 1e-12), (arm, history["seed"], step, measured, bound)


def test_spectral_norm_holds_every_layer_near_one_and_the_plain_discriminator_grows(short_quick_runs):
    runs, _ = short_quick_runs
    for history in runs["with_spectral_norm"]:
        sigmas = np.array(history["sigmas"][1:])   # step 0 precedes the first power iteration
        # W / (u^T W v) has sigma_max >= 1 (u^T W v <= sigma_max); one step per update keeps it close
        assert np.all(sigmas >= 1 - 1e-12) and np.all(sigmas < 1.1), sigmas
        assert max(history["bound"][1:]) < 1.1 ** 3
    for history in runs["without_spectral_norm"]:
        assert history["bound"][-1] > 2.0 * history["bound"][0], history["bound"]


def test_both_arms_of_a_seed_see_the_same_data_and_start_generator():
    config = replace(gan.QUICK_RING, hidden=8)
    g_sn, _ = gan.ring_models(4, True, config)
    g_plain, _ = gan.ring_models(4, False, config)
    for (key, a), (_, b) in zip(g_sn.state_dict().items(), g_plain.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    first, second = next(gan.ring_batches(4, config)), next(gan.ring_batches(4, config))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# `minigrad gan`: table, progress bar, gan.json, pictures
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_command(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    done = subprocess.run([sys.executable, "-m", "minigrad", "gan", "--quick", "--seeds", "2", "--steps", "60",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    return done, out


def test_gan_command_prints_the_table_and_a_progress_bar(quick_command):
    done, _ = quick_command
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "with spectral norm" in done.stdout and "without spectral norm" in done.stdout
    assert "modes (median, range)" in done.stdout and "sigma per layer" in done.stdout
    assert "60 steps" in done.stdout and "2 seed(s)" in done.stdout
    assert "100%" in done.stderr and "[####" in done.stderr
    assert "Traceback" not in done.stderr


def test_gan_json_schema(quick_command):
    _, out = quick_command
    result = json.loads((out / "gan.json").read_text())
    assert result["quick"] is True and "digits" not in result
    ring = result["ring"]
    assert ring["seeds"] == 2 and ring["config"]["steps"] == 60
    for arm in ("with_spectral_norm", "without_spectral_norm"):
        row = ring[arm]
        assert len(row["modes_per_seed"]) == 2 and len(row["high_quality_per_seed"]) == 2
        assert row["modes_median"] == float(np.median(row["modes_per_seed"]))
        assert row["modes_range"] == [min(row["modes_per_seed"]), max(row["modes_per_seed"])]
        assert all(0 <= m <= 8 for m in row["modes_per_seed"])
        assert row["high_quality_median"] == pytest.approx(float(np.median(row["high_quality_per_seed"])))
        assert len(row["sigmas_median"]) == 3
        assert 0 < row["lipschitz_worst_ratio"] <= 1 + 1e-12
    assert max(ring["with_spectral_norm"]["sigmas_median"]) < 1.1
    for name in result["files"].values():
        picture = out / name
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert set(result["files"]) == {"ring_samples", "ring_sigmas", "ring_lipschitz"}


# ---------------------------------------------------------------------------------------
# PyTorch replica: same initial weights, same data and noise, same losses
# ---------------------------------------------------------------------------------------
def _torch_copy(torch, model, spectral: bool):
    """The same Sequential in PyTorch (float64), with minigrad's weights (and u, v) copied in."""
    layers = []
    for module in model:
        if isinstance(module, nn.Linear):
            layer = torch.nn.Linear(module.in_features, module.out_features, dtype=torch.float64)
            if spectral:
                layer = torch.nn.utils.spectral_norm(layer)
            layers.append(layer)
        elif isinstance(module, nn.LeakyReLU):
            layers.append(torch.nn.LeakyReLU(module.negative_slope))
        else:
            assert isinstance(module, nn.ReLU)
            layers.append(torch.nn.ReLU())
    copy = torch.nn.Sequential(*layers)
    state = {key: torch.tensor(np.array(value)) for key, value in model.state_dict().items()}
    assert set(state) == set(copy.state_dict()), (set(state), set(copy.state_dict()))
    copy.load_state_dict(state)
    return copy


@pytest.mark.parametrize("spectral", [True, False], ids=["with_spectral_norm", "without_spectral_norm"])
def test_pytorch_replica_gives_the_same_losses_for_20_steps(spectral):
    torch = pytest.importorskip("torch", reason=ORACLE)
    import torch.nn.functional as TF

    config = replace(gan.QUICK_RING, steps=20)
    generator, discriminator = gan.ring_models(0, spectral, config)
    t_generator = _torch_copy(torch, generator, spectral=False)
    t_discriminator = _torch_copy(torch, discriminator, spectral)
    g_opt = mg.optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
    d_opt = mg.optim.Adam(discriminator.parameters(), lr=config.lr_discriminator, betas=config.betas)
    tg_opt = torch.optim.Adam(t_generator.parameters(), lr=config.lr_generator, betas=config.betas)
    td_opt = torch.optim.Adam(t_discriminator.parameters(), lr=config.lr_discriminator, betas=config.betas)
    batches = gan.ring_batches(0, config)
    count = config.batch
    signs = torch.cat([torch.ones(count, 1), -torch.ones(count, 1)]).double()
    for step in range(20):
        real, noise_d, noise_g = next(batches)
        ours = gan.ring_step(generator, discriminator, g_opt, d_opt, real, noise_d, noise_g)
        with torch.no_grad():
            fake = t_generator(torch.tensor(noise_d))
        td_opt.zero_grad()
        logits = t_discriminator(torch.cat([torch.tensor(real), fake]))
        d_loss = TF.softplus(-signs * logits)[:count].mean() + TF.softplus(-signs * logits)[count:].mean()
        d_loss.backward()
        td_opt.step()
        tg_opt.zero_grad()
        g_loss = TF.softplus(-t_discriminator(t_generator(torch.tensor(noise_g)))).mean()
        g_loss.backward()
        tg_opt.step()
        theirs = (d_loss.item(), g_loss.item())
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8, err_msg=f"step {step + 1}")
    # the runs did move: the losses of step 20 are not those of step 1, and the weights agree
    for key, value in discriminator.state_dict().items():
        np.testing.assert_allclose(value, t_discriminator.state_dict()[key].numpy(), rtol=0, atol=1e-8,
                                   err_msg=key)
