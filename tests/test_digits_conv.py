"""Convolutional models train on scikit-learn's bundled 8x8 digits and match PyTorch.

Two models: a classifier (conv, max-pool, conv, adaptive average pool, linear) and a
discriminator with spectral norm on every layer (strided convs, LeakyReLU) telling real
digits from digits with shuffled pixels. Each trains here to a stated accuracy, and with
the same weights (and power-iteration vectors) PyTorch 2.13 gives the same outputs,
gradients and SGD trajectory to 1e-10 in float64.
"""
import numpy as np
import pytest

import minigrad as mg
import norms
from minigrad import nn

ORACLE = "PyTorch (the optional oracle) is not installed"


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn (the dev extra's digits) is not installed")
    bunch = datasets.load_digits()
    images = (bunch.images / 16.0)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def classifier(m):
    return m.Sequential(
        m.Conv2d(1, 8, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(8, 16, 3, padding=1), m.ReLU(), m.AdaptiveAvgPool2d(2), m.Flatten(), m.Linear(64, 10),
    )


def discriminator(m, spectral_norm):
    return m.Sequential(
        spectral_norm(m.Conv2d(1, 8, 3, stride=2, padding=1)), m.LeakyReLU(0.2),
        spectral_norm(m.Conv2d(8, 16, 3, stride=2, padding=1)), m.LeakyReLU(0.2),
        m.Flatten(), spectral_norm(m.Linear(64, 1)),
    )


def _fakes(images, rng):
    """Each image with its pixels shuffled: the same brightness, no digit shape."""
    flat = images.reshape(len(images), -1).copy()
    for row in flat:
        rng.shuffle(row)
    return flat.reshape(images.shape)


def _train(model, loss_fn, batches, lr, steps):
    optimizer = mg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for step in range(steps):
        x, y = batches(step)
        optimizer.zero_grad()
        loss = loss_fn(model(mg.tensor(x)), mg.tensor(y))
        loss.backward()
        optimizer.step()
    return model


def test_conv_classifier_learns_the_digits(digits):
    images, labels = digits
    mg.manual_seed(0)
    model = classifier(nn)
    train, test = slice(0, 1400), slice(1400, None)
    order = np.random.default_rng(0).permutation(1400)

    def batches(step):
        pick = order[(step * 64) % 1344:(step * 64) % 1344 + 64]
        return images[train][pick], labels[train][pick]

    _train(model, nn.CrossEntropyLoss(), batches, lr=0.1, steps=600)
    with mg.no_grad():
        predicted = model(mg.tensor(images[test])).argmax(dim=1)
    accuracy = float((predicted.data == labels[test]).mean())
    assert accuracy > 0.9, accuracy


def test_spectral_norm_discriminator_tells_digits_from_shuffled_pixels(digits):
    images, _ = digits
    rng = np.random.default_rng(1)
    fakes = _fakes(images, rng)
    mg.manual_seed(0)
    model = discriminator(nn, norms.spectral_norm)

    def batches(step):
        pick = rng.integers(0, 1400, 32)
        x = np.concatenate([images[pick], fakes[pick]])
        return x, np.concatenate([np.ones((32, 1)), np.zeros((32, 1))])

    _train(model, nn.BCEWithLogitsLoss(), batches, lr=0.2, steps=150)
    model.eval()
    with mg.no_grad():
        real = model(mg.tensor(images[1400:])).data
        fake = model(mg.tensor(fakes[1400:])).data
    accuracy = (float((real > 0).mean()) + float((fake < 0).mean())) / 2
    assert accuracy > 0.9, accuracy
    for layer in (model[0], model[2], model[5]):  # every weight has spectral norm about 1
        matrix = layer.weight.data.reshape(layer.weight.shape[0], -1)
        # (sigma is estimated by one power-iteration step per update, so it trails the true one)
        assert abs(np.linalg.svd(matrix, compute_uv=False)[0] - 1) < 0.1


def _same_start(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("which", ["classifier", "discriminator old API", "discriminator parametrizations"])
def test_digit_models_match_pytorch(digits, which):
    torch = pytest.importorskip("torch", reason=ORACLE)
    images, labels = digits
    torch.manual_seed(0)
    if which == "classifier":
        theirs, ours = classifier(torch.nn).double(), classifier(nn)
        loss_ours, loss_theirs = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
        targets = labels[:48]
    else:
        if which.endswith("old API"):
            sn_ours, sn_theirs = norms.spectral_norm, torch.nn.utils.spectral_norm
        else:
            from norms import parametrizations

            sn_ours, sn_theirs = parametrizations.spectral_norm, torch.nn.utils.parametrizations.spectral_norm
        theirs, ours = discriminator(torch.nn, sn_theirs).double(), discriminator(nn, sn_ours)
        loss_ours, loss_theirs = nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()
        targets = (labels[:48, None] % 2).astype(np.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _same_start(ours, theirs)
    opt_ours = mg.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    for step in range(3):
        x = images[16 * step:16 * step + 48]
        xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out_ours, out_theirs = ours(xo), theirs(xt)
        np.testing.assert_allclose(out_ours.data, out_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        loss_o = loss_ours(out_ours, mg.tensor(targets))
        loss_t = loss_theirs(out_theirs, torch.tensor(targets))
        assert abs(loss_o.item() - loss_t.item()) < 1e-10
        opt_ours.zero_grad(), opt_theirs.zero_grad()
        loss_o.backward(), loss_t.backward()
        np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        opt_ours.step(), opt_theirs.step()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
