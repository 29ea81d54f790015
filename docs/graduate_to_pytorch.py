"""Graduate a minigrad model to PyTorch and its distributed engine.

    python docs/graduate_to_pytorch.py [--out DIR] [--minigrad-steps 40] [--ddp-steps 5]

What it does, in three acts:

1. **Train in minigrad.** A small classifier (Linear(2, 16), Tanh, Linear(16, 3)) learns
   three Gaussian blobs with plain SGD for ``--minigrad-steps`` steps, and its state_dict
   is saved with ``minigrad.save`` as ``DIR/model.safetensors``: a standard safetensors
   file whose keys (``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``) and layouts
   (weight as (out_features, in_features)) are PyTorch's.
2. **Continue in minigrad** from that file for ``--ddp-steps`` more steps: the reference.
3. **Continue in PyTorch with DistributedDataParallel** over the gloo backend, in two
   local processes that meet on 127.0.0.1: each loads the same file with
   ``safetensors.torch.load_file`` into the equivalent ``torch.nn.Sequential``, takes half
   of each batch, and DDP averages the two halves' gradients, so every step is the
   full-batch step of act 2. Rank 0 writes the full-batch loss of each step to
   ``DIR/ddp_losses.json``.

The script prints both loss curves and their largest difference (float64 throughout:
rounding only, about 1e-15). ``tests/test_graduation.py`` runs it and checks that number.
Needs PyTorch (``pip install -e .[oracle]``); the minigrad part needs nothing else.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

LEARNING_RATE = 0.5
BATCH = 64


def make_data(seed: int = 0) -> tuple:
    """Three Gaussian blobs in the plane (64 points, float64) and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(BATCH) % 3
    centres = np.array([[0.0, 2.0], [-1.7, -1.0], [1.7, -1.0]])
    return centres[labels] + 0.6 * rng.standard_normal((BATCH, 2)), labels.astype(np.int64)


def minigrad_model():
    import minigrad as mg
    from minigrad import nn

    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))


def minigrad_steps(model, steps: int) -> list:
    """``steps`` full-batch SGD steps of minigrad; the loss before each update."""
    import minigrad as mg
    from minigrad import nn

    inputs, labels = make_data()
    optimizer = mg.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(mg.tensor(inputs)), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def torch_model():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()


def ddp_worker(rank: int, world_size: int, port: int, checkpoint: str, steps: int, out: str) -> None:
    """One DDP process: load the minigrad checkpoint, train on this rank's half of the batch."""
    import torch
    import torch.distributed as dist
    from safetensors.torch import load_file
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        model = torch_model()
        model.load_state_dict(load_file(checkpoint))  # the minigrad file, keys and layouts unchanged
        ddp = DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=LEARNING_RATE)
        inputs, labels = make_data()
        share = slice(rank * BATCH // world_size, (rank + 1) * BATCH // world_size)
        x, y = torch.from_numpy(inputs[share]), torch.from_numpy(labels[share])
        losses = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(ddp(x), y)
            loss.backward()  # DDP all-reduces the gradients: the mean over both halves
            optimizer.step()
            total = loss.detach().clone()
            dist.all_reduce(total)
            losses.append(total.item() / world_size)
        if rank == 0:
            Path(out).write_text(json.dumps(losses))
        # Both ranks leave the group together: a rank that tears gloo down while the other
        # is still in its last collective can abort the process ("terminate called ...").
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(out_dir, minigrad_steps_count: int = 40, ddp_steps: int = 5, timeout: float = 120.0) -> dict:
    """All three acts; returns the losses of acts 2 and 3 and their largest difference."""
    import minigrad as mg

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = minigrad_model()
    trained = minigrad_steps(model, minigrad_steps_count)
    checkpoint = out_dir / "model.safetensors"
    mg.save(model.state_dict(), checkpoint)

    reference = minigrad_model()
    reference.load_state_dict(mg.load(checkpoint))
    continued = minigrad_steps(reference, ddp_steps)

    port, result = free_port(), out_dir / "ddp_losses.json"
    workers = [
        subprocess.Popen([sys.executable, __file__, "--worker", str(rank), "--port", str(port),
                          "--checkpoint", str(checkpoint), "--ddp-steps", str(ddp_steps), "--result", str(result)],
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
        for rank in range(2)
    ]
    for worker in workers:
        if worker.wait(timeout=timeout) != 0:
            raise RuntimeError(f"graduate_to_pytorch: a DDP worker exited with code {worker.returncode}")
    ddp = json.loads(result.read_text())
    return {"minigrad_training": trained, "minigrad_continued": continued, "ddp_continued": ddp,
            "max_difference": max(abs(a - b) for a, b in zip(continued, ddp))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="graduation", help="folder for the checkpoint and the DDP losses")
    parser.add_argument("--minigrad-steps", type=int, default=40)
    parser.add_argument("--ddp-steps", type=int, default=5)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        ddp_worker(args.worker, 2, args.port, args.checkpoint, args.ddp_steps, args.result)
        return 0
    results = run(args.out, args.minigrad_steps, args.ddp_steps)
    print(f"minigrad training: loss {results['minigrad_training'][0]:.4f} -> {results['minigrad_training'][-1]:.4f}")
    for step, (ours, theirs) in enumerate(zip(results["minigrad_continued"], results["ddp_continued"])):
        print(f"step {step}: minigrad {ours:.15f}   DDP (2 processes, gloo) {theirs:.15f}")
    print(f"largest difference: {results['max_difference']:.2e}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
