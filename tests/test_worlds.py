"""Every primitive, every example, every world: float64, float32 and SymPy, recorded and not.

The worlds are defined in ``minigrad.verification.worlds``; here each (primitive, example, world) is one
test case, so a failure names the op, the example and the world. The array-level fast VJPs
are held to the tensor VJPs: equal on every example to 1e-15, never needed for a result
(removing one changes no gradient), and a bug planted in one alone is caught.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd
import norms.checks  # noqa: F401  (the norms' primitives join the registry, deterministically)
from minigrad.verification import checks, worlds
from minigrad.verification.planted import planted_bug
from minigrad.ops import REGISTRY
from minigrad.ops.registry import Primitive, register, unregister

CASES = [case for op in list(REGISTRY.values()) for case in worlds.cases(op)]
FAST = sorted(name for name, op in REGISTRY.items() if op.fast_vjp is not None)


def _id(case):
    return f"{case.op.name}-{case.label().replace(' ', '')}-{checks.describe_attrs(case.attrs).replace(' ', '')[:30]}"


@pytest.mark.parametrize("world", worlds.WORLDS)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_primitive_in_every_world(case, world):
    result = worlds.check_case(case, world, budget=20.0)
    assert result.ok, result.report
    if world == "sympy" and case.op.symbolic:
        assert result.details["proof"] == "proved" or result.details["proof"].startswith("matched"), result.details


def test_every_library_primitive_has_a_zero_d_example_or_says_why():
    for name, op in REGISTRY.items():
        has_zero_d = any(() in tuple(shapes) for shapes, _ in op.examples)
        assert has_zero_d or len(op.no_zero_d) > 20, name


def test_binary_ops_are_run_with_a_python_number_on_either_side():
    for name in worlds.SCALAR_OPERAND_OPS:
        positions = {case.scalar_at for case in worlds.cases(REGISTRY[name])}
        assert positions == {None, 0, 1}, name


def test_register_refuses_a_library_primitive_without_a_zero_d_example():
    class NoScalar(Primitive):
        name = "test_no_zero_d"
        examples = [(((3,),), {})]

        @staticmethod
        def forward(ctx, a):
            return a * 2

    NoScalar.__module__ = "minigrad.ops.test_only"
    with pytest.raises(ValueError, match="primitive 'test_no_zero_d' has no example with a 0-d operand"):
        register(NoScalar)
    assert "test_no_zero_d" not in REGISTRY
    NoScalar.examples = []
    with pytest.raises(ValueError, match="primitive 'test_no_zero_d' has no examples"):
        register(NoScalar)
    NoScalar.examples = [(((3,),), {})]
    NoScalar.no_zero_d = "a reason given in words, long enough to read"
    try:
        assert register(NoScalar) is NoScalar
    finally:
        unregister("test_no_zero_d")


def test_the_fast_vjps_that_exist():
    # the ops whose unrecorded float backward runs on arrays; each is compared with its vjp
    assert {"mul", "tanh", "linear", "cross_entropy", "spectral_normalize", "weight_norm"} <= set(FAST)


@pytest.mark.parametrize("name", FAST)
def test_a_bug_planted_only_in_the_fast_vjp_is_caught_with_the_op_named(name):
    case = worlds.cases(REGISTRY[name])[0]
    assert worlds.check_case(case, "float64").ok
    with planted_bug(name, "double", target="fast_vjp"):
        result = worlds.check_case(case, "float64")
        sympy_result = worlds.check_case(case, "sympy", budget=20.0)
    assert not result.ok
    assert result.report.startswith(f"{name} (")
    assert "fast_vjp = vjp, input" in result.report
    if autograd.USE_FAST_VJP:  # (under MINIGRAD_NO_FAST_VJP=1 no backward pass runs it)
        assert "unrecorded = recorded backward" in result.report
    assert sympy_result.ok  # the SymPy world never runs a fast VJP
    assert worlds.check_case(case, "float64").ok  # restored


@pytest.mark.parametrize("name", FAST)
def test_a_bug_planted_only_in_the_vjp_is_caught_in_float_and_sympy(name):
    case = worlds.cases(REGISTRY[name])[0]
    with planted_bug(name, "sign", target="vjp"):
        float_result = worlds.check_case(case, "float64")
        sympy_result = worlds.check_case(case, "sympy", budget=20.0)
    assert not float_result.ok and "fast_vjp = vjp" in float_result.report
    assert not sympy_result.ok and f"{name} (" in sympy_result.report


@pytest.mark.parametrize("name", FAST)
def test_removing_a_fast_vjp_changes_no_gradient(name):
    op = REGISTRY[name]
    for case in worlds.cases(op):
        inputs = worlds._inputs(case, np.float64)
        fn = case.function()
        out = fn(*inputs)
        weight = mg.tensor(np.random.default_rng(1).standard_normal(out.shape))
        with_fast = mg.grad((out * weight).sum(), inputs, allow_unused=True)
        saved = op.__dict__["fast_vjp"]
        op.fast_vjp = None
        try:
            out = fn(*inputs)
            without = mg.grad((out * weight).sum(), inputs, allow_unused=True)
            assert worlds.check_case(case, "float64").ok
        finally:
            op.fast_vjp = saved
        for a, b in zip(with_fast, without):
            if a is None:
                assert b is None
                continue
            scale = max(1.0, float(np.max(np.abs(b.data), initial=0.0)))
            assert np.max(np.abs(a.data - b.data), initial=0.0) <= 1e-15 * scale, name


def test_a_failure_in_one_world_names_the_world_and_the_comparison():
    (case,) = [c for c in worlds.cases(REGISTRY["mul"]) if c.shapes == ((), (3, 4)) and c.scalar_at is None]
    with planted_bug("mul", "double", target="vjp"):
        result = worlds.check_case(case, "sympy", budget=20.0)
    assert not result.ok
    assert result.report.startswith("mul ((), (3, 4)) in sympy: proof: ")
    assert result.details["proof"] == "FAIL"


def test_the_whole_engine_runs_without_fast_vjps_on_request():
    # MINIGRAD_NO_FAST_VJP=1 keeps every backward pass on the tensor VJPs (the teaching path):
    # every gradient of a model using all six fast VJPs is the same, entry by entry
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, numpy as np, minigrad as mg, norms\n"
        "from minigrad import autograd, nn\n"
        "from minigrad.nn import functional as F\n"
        "mg.manual_seed(0)\n"
        "model = nn.Sequential(norms.spectral_norm(nn.Linear(3, 4)), nn.Tanh(),\n"
        "                      norms.weight_norm(nn.Linear(4, 4)), nn.Tanh(), nn.Linear(4, 2))\n"
        "x = mg.randn(5, 3)\n"
        "loss = F.cross_entropy(model(x) * mg.randn(5, 2), [0, 1, 1, 0, 1])\n"
        "loss.backward()\n"
        "grads = {k: p.grad.data.tolist() for k, p in model.named_parameters()}\n"
        "print(json.dumps([autograd.USE_FAST_VJP, grads]))\n"
    )
    runs = {}
    for value in ("1", "0"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "MINIGRAD_NO_FAST_VJP": value})
        assert done.returncode == 0, done.stderr
        runs[value] = json.loads(done.stdout)
    assert runs["1"][0] is False and runs["0"][0] is True
    slow, fast = runs["1"][1], runs["0"][1]
    assert set(slow) == set(fast) and len(slow) == 7
    for name in slow:
        a, b = np.asarray(slow[name]), np.asarray(fast[name])
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-15 * max(1.0, np.max(np.abs(a))), name


def test_a_float_seed_on_a_symbolic_graph_uses_the_tensor_vjp():
    from minigrad.nn import functional as F

    z = mg.symbols("z", (2, 3))
    F.cross_entropy(z, [0, 2]).backward(mg.tensor(1.0))
    assert str(z.grad.data[0, 1]) == "exp(z_0_1)/(2*(exp(z_0_0) + exp(z_0_1) + exp(z_0_2)))"


def test_maximum_of_two_scalar_symbols():
    x, y = mg.symbols("x"), mg.symbols("y")
    m = mg.maximum(x, y)
    m.backward()
    import sympy as sp

    sx, sy = x.data[()], y.data[()]
    assert m.data[()] == sp.Max(sx, sy)
    assert x.grad.data[()] == sp.Heaviside(sx - sy, sp.S.Half)
    assert x.grad.data[()].subs(sy, sx) == sp.S.Half  # the tie is split, as in the float world
