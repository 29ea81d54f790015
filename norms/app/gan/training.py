"""Training the ring GAN: one run, measured as it goes, and both arms over seeds with their summary.

Both arms of a seed start from the same generator weights and see the same data and noise;
they differ only in spectral norm on every discriminator layer.
"""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

import minigrad as mg
from minigrad import optim
from norms.app.gan.ring import (
    HIGH_QUALITY_STDS, MODE_MIN_SAMPLES, QUICK_RING, RING_STD, RingConfig, discriminator_loss, generator_loss,
    lipschitz_check, make_ring_discriminator, make_ring_generator, ring_metrics, sample_ring,
)


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def ring_models(seed: int, spectral: bool, config: RingConfig) -> tuple:
    """G and D for ``seed``: minigrad's generator seeded, G drawn first, then D (and its u, v)."""
    mg.manual_seed(seed)
    generator = make_ring_generator(config)
    discriminator = make_ring_discriminator(config, spectral)
    return generator, discriminator


def ring_batches(seed: int, config: RingConfig):
    """The per-step draws (real batch, noise for D's step, noise for G's step), from their own stream.

    Kept apart from the weights' stream so both arms of a seed see the same data and noise.
    """
    rng = np.random.default_rng([seed, 1])
    while True:
        yield (sample_ring(config.batch, rng), rng.standard_normal((config.batch, config.noise_dim)),
               rng.standard_normal((config.batch, config.noise_dim)))


def ring_step(generator, discriminator, g_optimizer, d_optimizer, real, noise_d, noise_g) -> tuple:
    """One D update on [real; G(noise_d)] then one G update on D(G(noise_g)); returns both losses."""
    with mg.no_grad():
        fake = generator(mg.tensor(noise_d)).data
    d_optimizer.zero_grad()
    d_loss = discriminator_loss(discriminator(mg.tensor(np.concatenate([real, fake]))), len(real))
    d_loss.backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    g_loss = generator_loss(discriminator(generator(mg.tensor(noise_g))))
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()


def train_ring(seed: int, spectral: bool, config: RingConfig = QUICK_RING, keep_samples: bool = False,
               progress=None) -> dict:
    """Train one ring GAN; measure every ``config.eval_every`` steps (and at step 0).

    Returns the per-step losses, and at each evaluation step: modes, high-quality share,
    D's layer sigmas, the measured Lipschitz constant and its bound; with ``keep_samples``
    also the generator's samples there (for the pictures).
    """
    generator, discriminator = ring_models(seed, spectral, config)
    g_optimizer = optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
    d_optimizer = optim.Adam(discriminator.parameters(), lr=config.lr_discriminator, betas=config.betas)
    evaluation_rng = np.random.default_rng([seed, 2])
    evaluation_noise = evaluation_rng.standard_normal((config.eval_samples, config.noise_dim))
    batches = ring_batches(seed, config)
    history = {"seed": seed, "spectral_norm": spectral, "d_losses": [], "g_losses": [], "eval_steps": [],
               "modes": [], "high_quality": [], "sigmas": [], "lipschitz": [], "bound": [], "samples": []}
    started = time.perf_counter()

    def evaluate(step: int) -> None:
        with mg.no_grad():
            samples = generator(mg.tensor(evaluation_noise)).data
        metrics = ring_metrics(samples)
        count = config.lipschitz_samples
        real = sample_ring(count, evaluation_rng)
        fake = samples[:count]
        mix = evaluation_rng.uniform(size=(count, 1))
        check = lipschitz_check(discriminator, np.concatenate([real, fake, mix * real + (1 - mix) * fake]))
        history["eval_steps"].append(step)
        history["modes"].append(metrics["modes"])
        history["high_quality"].append(metrics["high_quality"])
        history["sigmas"].append(check["sigmas"])
        history["lipschitz"].append(check["measured"])
        history["bound"].append(check["bound"])
        if keep_samples:
            history["samples"].append(samples)

    evaluate(0)
    for step in range(1, config.steps + 1):
        d_loss, g_loss = ring_step(generator, discriminator, g_optimizer, d_optimizer, *next(batches))
        history["d_losses"].append(d_loss)
        history["g_losses"].append(g_loss)
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
            if progress is not None:
                progress(step)
    history["seconds"] = time.perf_counter() - started
    history["final_per_mode"] = ring_metrics(history["samples"][-1] if keep_samples else
                                             _final_samples(generator, evaluation_noise))["per_mode"]
    return history


def _final_samples(generator, noise) -> np.ndarray:
    with mg.no_grad():
        return generator(mg.tensor(noise)).data


# ---------------------------------------------------------------------------------------
# Both arms over seeds, and their summary
# ---------------------------------------------------------------------------------------
ARMS = (("with_spectral_norm", True), ("without_spectral_norm", False))


def one_blas_thread():
    """A context that keeps BLAS on one thread when threadpoolctl is installed.

    These matrices are small (256 x 64): a second BLAS thread only adds hand-over costs,
    and on a shared 2-core machine a spinning thread made a step ten times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the run is only slower
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _train_task(task: tuple) -> tuple:
    """One (arm, seed) run for a worker process; BLAS kept to one thread there too."""
    arm, seed, spectral, config, keep_samples = task
    with one_blas_thread():
        return arm, seed, train_ring(seed, spectral, config, keep_samples=keep_samples)


def run_ring(seeds: int, config: RingConfig = QUICK_RING, progress=None, keep_samples_seed: int = 0,
             jobs: int = 1) -> dict:
    """Train both arms for seeds 0 .. seeds-1; returns {arm: [history per seed]}.

    ``progress(label, fraction)`` is called as the runs advance; the run of seed
    ``keep_samples_seed`` keeps its samples for the pictures. With ``jobs`` > 1 the runs
    are shared among that many worker processes (each run is independent and seeded, so
    the results are the same as with one process).
    """
    tasks = [(arm, seed, spectral, config, seed == keep_samples_seed)
             for seed in range(seeds) for arm, spectral in ARMS]
    runs = {arm: [None] * seeds for arm, _ in ARMS}
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks))) as pool:
            for finished, (arm, seed, history) in enumerate(pool.imap_unordered(_train_task, tasks), 1):
                runs[arm][seed] = history
                if progress is not None:
                    progress(f"ring, {finished}/{len(tasks)} runs ({jobs} processes)", finished / len(tasks))
        return runs
    total = len(tasks) * config.steps
    with one_blas_thread():
        for index, (arm, seed, spectral, _, keep) in enumerate(tasks):
            label = f"ring, {arm.replace('_', ' ')}, seed {seed + 1}/{seeds}"

            def report(step, label=label, base=index * config.steps):
                if progress is not None:
                    progress(label, (base + step) / total)

            runs[arm][seed] = train_ring(seed, spectral, config, keep_samples=keep, progress=report)
    return runs


def summarise(runs: dict, config: RingConfig) -> dict:
    """The ring part of gan.json: per arm the median and range over seeds of the final metrics.

    ``lipschitz_worst_ratio`` is the largest measured / bound over every evaluation of
    every seed (at most 1 when the bound holds); ``sigmas_median`` is the median over seeds
    of each layer's final largest singular value.
    """
    summary = {"seeds": len(next(iter(runs.values()))), "config": config_dict(config),
               "definitions": {"high_quality": f"within {HIGH_QUALITY_STDS:g} std ({HIGH_QUALITY_STDS * RING_STD:g}) "
                                               f"of a centre",
                               "mode_covered": f"at least {MODE_MIN_SAMPLES} of {config.eval_samples} samples "
                                               f"high quality at that centre"}}
    for arm, histories in runs.items():
        modes = [h["modes"][-1] for h in histories]
        quality = [h["high_quality"][-1] for h in histories]
        ratios = [m / b for h in histories for m, b in zip(h["lipschitz"], h["bound"])]
        summary[arm] = {
            "modes_median": float(np.median(modes)),
            "modes_range": [int(min(modes)), int(max(modes))],
            "high_quality_median": float(np.median(quality)),
            "high_quality_range": [float(min(quality)), float(max(quality))],
            "modes_per_seed": [int(m) for m in modes],
            "high_quality_per_seed": [float(q) for q in quality],
            "sigmas_median": [float(s) for s in np.median([h["sigmas"][-1] for h in histories], axis=0)],
            "lipschitz_measured_median": float(np.median([h["lipschitz"][-1] for h in histories])),
            "lipschitz_bound_median": float(np.median([h["bound"][-1] for h in histories])),
            "lipschitz_worst_ratio": float(max(ratios)),
            "seconds": float(sum(h["seconds"] for h in histories)),
        }
    return summary


def config_dict(config) -> dict:
    return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(config).items()}
