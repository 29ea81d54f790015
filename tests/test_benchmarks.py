"""The benchmark suite's smoke run: every case runs in seconds and reports sane numbers.

Timings are never asserted here (the machine is shared and noisy); ratios live in
benchmarks/results.md from a full run. What is asserted: the cases run, the hand-written
reference computes the same gradients as minigrad, and every reported number is finite.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

from benchmarks import mlp_step

ROOT = Path(__file__).resolve().parents[1]


def test_reference_step_computes_the_same_gradients_as_minigrad():
    assert mlp_step.check_same_gradients() < 1e-12


def test_quick_benchmark_run_writes_finite_results(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert {"mlp_step float64 batch 64", "tiny_ops", "memory"} <= set(results)
    for case, numbers in results.items():
        for key, value in numbers.items():
            if isinstance(value, float):
                assert math.isfinite(value), (case, key, value)
                if not key.endswith("growth"):  # growth exponents may dip below 0 on tiny sizes
                    assert value >= 0, (case, key, value)
    assert results["mlp_step float64 batch 64"]["minigrad_over_numpy"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "| mlp_step float64 batch 64 | minigrad_over_numpy |" in table
