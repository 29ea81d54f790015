"""The benchmark suite's smoke run: every case runs in seconds and reports sane numbers.

Timings are never asserted here (the machine is shared and noisy); ratios live in
benchmarks/results.md from a full run. What is asserted: every case runs in its child
process with the thread settings the runner gave it, every side of a comparison computes
the same gradients (or losses) as minigrad, every ratio is finite and positive, the
Markdown puts the headline ratios first, and the timing and search logic (PyTorch in
phases of its own; the symbolic search stopping at the first size over its limit) do
what they say, on synthetic inputs.
"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import common, mlp_step, symbolic_cost, tiny_ops
from benchmarks.__main__ import headline_rows, module_of, render_markdown

ROOT = Path(__file__).resolve().parents[1]
CASE_PREFIXES = (
    "mlp_step float64 batch 64", "mlp_step float32 batch 64", "mlp_step float64 batch 1024",
    "mlp_step float32 batch 1024", "tiny_ops", "memory", "spectral_norm_step", "weight_norm_step",
    "batch_norm_step", "power_iteration", "gradcheck_cost", "symbolic_cost",
)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    return data["meta"], data["results"], (out / "results.md").read_text(), done.stdout


def test_reference_step_computes_the_same_gradients_as_minigrad():
    assert mlp_step.check_same_gradients() < 1e-12


def test_every_case_runs_in_a_child_with_one_thread_and_the_passive_wait_policy(quick_run):
    meta, results, _, _ = quick_run
    for prefix in CASE_PREFIXES:
        assert any(name.startswith(prefix) for name in results), prefix
    assert meta["failed"] == []
    assert meta["isolation"] == "one process per module's cases"
    assert meta["threads"] == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                               "OMP_WAIT_POLICY": "PASSIVE"}
    for name, threads in meta["threads_per_case"].items():
        assert threads["OPENBLAS_NUM_THREADS"] == "1", name
        assert threads["OMP_WAIT_POLICY"] == "PASSIVE", name
    if _has("torch"):
        assert meta["torch_num_threads"] == 1
    assert len(meta["load_average_start"]) == 3 and len(meta["load_average_end"]) == 3
    assert set(meta["case_seconds"]) == set(results)
    assert meta["seconds"] > 0


def test_every_number_is_finite_and_every_ratio_positive(quick_run):
    _, results, _, _ = quick_run
    ratios = {"torch": 0, "other": 0}
    for case, numbers in results.items():
        for key, value in numbers.items():
            if isinstance(value, float):
                assert math.isfinite(value), (case, key, value)
                if not key.endswith("growth"):  # growth exponents may dip below 0 on tiny sizes
                    assert value >= 0, (case, key, value)
            if "_over_" in key and not isinstance(value, str):
                assert value > 0 and math.isfinite(value), (case, key, value)
                ratios["torch" if "torch" in key else "other"] += 1
    # the ratios against NumPy and between sizes are always there; PyTorch's only with the oracle
    assert ratios["other"] >= 19
    assert (ratios["torch"] >= 1) == _has("torch")


def test_every_side_computes_the_same_gradients(quick_run):
    _, results, _, _ = quick_run
    for name, numbers in results.items():
        if name.startswith("mlp_step"):
            tolerance = 1e-10 if "float64" in name else 1e-4
            differences = {k: v for k, v in numbers.items() if k.startswith("max_grad_difference_")}
            assert "max_grad_difference_numpy" in differences
            if _has("torch"):
                assert "max_grad_difference_torch" in differences
            assert all(v < tolerance for v in differences.values()), (name, differences)
    errors = {k: v for k, v in results["tiny_ops"].items() if k.endswith("_grad_error")}
    assert "minigrad_grad_error" in errors and all(v < 1e-12 for v in errors.values()), errors
    for kind in ("spectral_norm_step", "weight_norm_step", "batch_norm_step"):
        losses = {k: v for k, v in results[kind].items() if k.startswith("max_loss_difference")}
        assert losses and all(v < 1e-10 for v in losses.values()), (kind, losses)
    gradcheck = next(numbers for name, numbers in results.items() if name.startswith("gradcheck_cost"))
    assert all(value is True for key, value in gradcheck.items() if "_ok_" in key)
    symbolic = next(numbers for name, numbers in results.items() if name.startswith("symbolic_cost"))
    methods = [value for key, value in symbolic.items() if key.endswith("_methods")]
    assert methods and all(set(m.split("/")) == {"proved"} for m in methods), methods


def test_the_markdown_starts_with_the_headline_ratios_and_their_targets(quick_run):
    meta, _, table, stdout = quick_run
    headline = table.split("## Details")[0]
    assert "## Headline ratios" in headline
    assert "| MLP step 784-128-10 tanh, batch 64, float64: minigrad / hand-written NumPy |" in headline
    assert "| <= 1.15 |" in headline and "| >= 50 |" in headline and "| < 300 s |" in headline
    assert "### MLP step" in table and "### symbolic_check" in table and "### One power-iteration step" in table
    assert "OPENBLAS_NUM_THREADS=1" in table.splitlines()[0]
    assert f"all cases: {meta['seconds']:.1f} s" in stdout


def test_headline_rows_judge_the_targets():
    results = {
        "mlp_step float64 batch 64": {"minigrad_over_numpy": 1.2, "minigrad_over_torch": 0.9},
        "tiny_ops": {"minigrad_over_torch": 0.5, "length": 10_000},
        "memory": {"peak_over_numpy": 1.1, "growth_over_steps_kb": 0.0, "steps": 1000, "peak_batch": 1024,
                   "growth_batch": 64},
    }
    rows = {row[0]: row for row in headline_rows(results, 120.0, False)}
    assert rows["MLP step 784-128-10 tanh, batch 64, float64: minigrad / hand-written NumPy"][3] == "**misses**"
    assert rows["same step: minigrad / PyTorch"][3] == "meets"
    assert rows["chain of 10,000 elementwise ops on 8 floats, fwd + bwd: minigrad / PyTorch per op"][1] == "0.500"
    assert rows["memory growth over 1,000 MLP training steps (batch 64), KB"][3] == "meets"
    spectral = [row for label, row in rows.items() if label.startswith("spectral-norm")][0]
    assert spectral[1:] == ("not measured", "<= 1.1", "-")
    assert rows["the whole suite, `python -m benchmarks`"][1:] == ("120 s", "< 300 s", "meets")
    text = render_markdown({"quick": False, "seconds": 120.0, "threads": {}}, {"memory": results["memory"]})
    assert text.index("## Headline ratios") < text.index("### Memory")


def test_cases_of_one_module_share_a_process_under_isolate_module():
    assert module_of("mlp_step float32 batch 1024") == "mlp_step"
    assert module_of("weight_norm_step") == module_of("spectral_norm_step") == "norm_steps"
    assert module_of("gradcheck_cost (quick: 1k, 10k)") == "gradcheck_cost"


def test_pytorch_gets_phases_of_its_own_never_interleaved():
    calls = []
    phases = [{"numpy": lambda: calls.append("numpy"), "minigrad": lambda: calls.append("minigrad")},
              {"torch": lambda: calls.append("torch")}]
    samples = common.phased_samples(phases, rounds=2, repeat=2, number=1, warmup=1)
    assert {name: len(values) for name, values in samples.items()} == {"numpy": 4, "minigrad": 4, "torch": 4}
    one_round = ["numpy", "minigrad"] + ["numpy", "minigrad"] * 2 + ["torch"] * 3
    assert calls == one_round * 2


def test_importing_the_common_helpers_sets_the_passive_wait_policy():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, benchmarks.common; print(os.environ['OMP_WAIT_POLICY'])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "PASSIVE", done.stderr


def test_tiny_ops_chain_gradient_is_the_closed_form():
    assert tiny_ops.exact_gradient(10_000) == pytest.approx(1.0001 ** 5000, rel=1e-15)
    results = tiny_ops.run(length=20, rounds=1, repeat=1, torch_too=False, autograd_too=False)
    assert results["minigrad_grad_error"] < 1e-14
    assert results["samples"] == 1


def _drive(plan, seconds_at, limit=symbolic_cost.PROOF_LIMIT):
    """Run a symbolic_cost plan against synthetic check times; (results, sizes asked for)."""
    asked = []
    outcome = None
    while True:
        try:
            rows, columns = plan.send(outcome)
        except StopIteration as stop:
            return stop.value, asked
        asked.append((rows, columns))
        cpu = seconds_at(rows, columns)
        if cpu > limit:
            outcome = {"ok": False, "method": "over limit", "cpu": limit, "wall": limit, "status": "over limit"}
        else:
            outcome = {"ok": True, "method": "proved", "cpu": cpu, "wall": cpu, "status": "done",
                       "entries": 1, "proved": 1}


def _ample_time() -> dict:
    now = time.monotonic()
    return {"deadline_at": now + 1000, "unfinished": 1, "workers": 2, "started": now - 10, "cpu_spent": 20.0}


@pytest.mark.parametrize("seconds_at, largest, stop", [
    # time ~ n^4: 5x5 takes 6.25 s; 6x6 is predicted at 13 s, over 1.25 x the limit: not run.
    (lambda r, c: 0.01 * (r * c) ** 2, 5, "6x6 not run: predicted 13"),
    # time ~ n^3: 6x6 is predicted at 10.8 s, so it is run, and takes over the limit.
    (lambda r, c: 0.05 * (r * c) ** 1.5, 5, "6x6 over limit"),
])
def test_symbolic_search_finds_the_largest_size_under_the_limit(seconds_at, largest, stop):
    plan = symbolic_cost._norm_plan("norm", symbolic_cost.FIXED_SIZES, 3, True, _ample_time())
    results, asked = _drive(plan, seconds_at)
    assert results["norm_largest_proved"] == largest
    assert results["norm_predicted_largest"] == largest
    assert results["norm_next"].startswith(stop), results["norm_next"]
    assert results["norm_methods"] == "proved/proved/proved"
    over = [size for size in asked if seconds_at(*size) > symbolic_cost.PROOF_LIMIT]
    assert len(over) <= 1  # the search ends at its first size over the limit


def test_symbolic_search_respects_its_share_of_the_cap():
    state = _ample_time()
    state["deadline_at"] = time.monotonic() + 1.0  # one second left for this norm
    plan = symbolic_cost._norm_plan("norm", ((2, 2), (3, 3)), 1, True, state)
    results, asked = _drive(plan, lambda r, c: 0.01 * (r * c) ** 2)
    assert "share of the case's time cap" in results["norm_next"]
    assert results["norm_largest_proved"] == 3 and asked == [(2, 2), (3, 3)]
    assert results["norm_predicted_largest"] == 5  # 0.01 n^4: 6.25 s at 5x5, 13 s at 6x6
    assert state["unfinished"] == 0


def test_process_group_cpu_time_is_read_from_proc():
    seconds = symbolic_cost.group_cpu_seconds(os.getpgrp())
    if not os.path.isdir("/proc"):
        assert seconds is None
    else:
        assert seconds > 0


def test_timing_helpers_return_medians_of_their_samples():
    assert common.median([3.0, 1.0, 2.0]) == 2.0
    assert common.spread([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert np.isfinite(common.median_seconds(lambda: None, repeat=3, number=2, warmup=1))
