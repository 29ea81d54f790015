"""The checks behind ``minigrad check``: every gradient in the library, checked three ways.

What is checked
    * every registered primitive (``minigrad.ops.REGISTRY``), once per entry of its
      ``examples`` list (input shapes, attrs) and data world, on inputs drawn from its
      ``domain`` (see ``domains``);
    * every composed function registered with :func:`register_check` (mean, var, relu,
      softmax, cross_entropy, ...). A package built on minigrad adds its own rows the same
      way, from a module its application imports before the table is run: the tools here
      never import a package above the engine.

How
    1. central finite differences (``gradcheck``, float64, the full Jacobian), with the
       tight tolerance ``|a - n| <= 1e-7 + 1e-6 |n|``;
    2. SymPy (``symbolic_check``): "proved" when the engine's gradient minus ``sympy.diff``
       simplifies to 0, "matched at N points" when only exact evaluation at rational points
       was affordable, "not symbolic" for ops without a SymPy form (max, svd);
    3. second derivatives (``gradgradcheck``) for ops whose VJP is smooth.

A planted bug shows the checks bite: ``MINIGRAD_PLANT_BUG=mul`` (or ``mul:sign``,
``matmul:transpose``, ``exp:zero``; the default kind is ``double``) spoils that primitive's
VJP for the run (see ``planted``), and ``minigrad check`` exits 1. The table itself is
printed by ``check_table``.
"""
from __future__ import annotations

import contextlib
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minigrad.ops import REGISTRY
from minigrad.tensor import Tensor
from minigrad.verification import worlds as world_checks
from minigrad.verification.domains import draw_inputs, symbolic_domain
from minigrad.verification.gradcheck import check_gradients, check_second_derivatives
from minigrad.verification.planted import parse_plant, planted_bug
from minigrad.verification.symbolic import symbolic_check

#: the tolerance of ``minigrad check``'s finite-difference column (PyTorch's is 1e-5 / 1e-3)
FD_ATOL = 1e-7
FD_RTOL = 1e-6
#: seconds each symbolic proof may take before falling back to rational points
SYMBOLIC_BUDGET = 10.0


@dataclass
class CheckEntry:
    """One function to check at one set of input shapes.

    ``fn`` takes one tensor per shape and returns a tensor (or a tuple of them); anything
    else it needs (targets, axes) is bound inside it. ``domain`` ("real", "positive",
    "nonzero", "distinct"; one for all inputs or one per input) says where to draw inputs.
    """

    name: str
    fn: Callable
    shapes: tuple
    domain: object = "real"
    symbolic: bool = True
    smooth: bool = True
    kind: str = "composed"
    attrs: str = ""
    #: inputs that get no gradient (e.g. a target), by position
    constant_inputs: tuple = ()
    #: for a primitive: the data world of the row ("float64", "float32", "sympy") and the
    #: example it runs (a ``minigrad.verification.worlds.WorldCase``); composed functions have neither
    world: str = ""
    case: object = None


_CHECKS: list = []


def register_check(
    name: str,
    fn: Callable,
    shapes: Sequence[tuple],
    *,
    domain="real",
    symbolic: bool = True,
    smooth: bool = True,
    kind: str = "composed",
    attrs: str = "",
    constant_inputs: Sequence[int] = (),
) -> CheckEntry:
    """Add a function to ``minigrad check`` (and to the registry-wide tests).

    Registering the same name again with other shapes adds another case. Example (in a
    package that builds on minigrad)::

        from minigrad.verification.checks import register_check
        register_check("frobenius", lambda a: frobenius(a), [(3, 4)], kind="norm")
    """
    entry = CheckEntry(
        name=name, fn=fn, shapes=tuple(tuple(s) for s in shapes), domain=domain,
        symbolic=symbolic, smooth=smooth, kind=kind, attrs=attrs,
        constant_inputs=tuple(constant_inputs),
    )
    _CHECKS.append(entry)
    return entry


def unregister_check(name: str) -> None:
    """Remove every case registered under ``name`` (tests clean up with this)."""
    _CHECKS[:] = [entry for entry in _CHECKS if entry.name != name]


def primitive_checks(worlds: Sequence[str] | None = None) -> list:
    """One entry per (primitive, example, world), read from the REGISTRY at call time.

    The examples include, for binary elementwise ops, a Python number as either operand
    (see ``minigrad.verification.worlds.cases``). ``worlds`` picks some of float64, float32, sympy.
    """
    chosen = tuple(worlds) if worlds is not None else world_checks.WORLDS
    entries = []
    for op in list(REGISTRY.values()):
        for case in world_checks.cases(op):
            attrs = describe_attrs(case.attrs)
            if case.scalar_at is not None:
                attrs = f"{attrs} number operand {case.scalar_at}".strip()
            domain = op.domain
            if case.scalar_at is not None and not isinstance(domain, str):
                domain = [d for i, d in enumerate(domain) if i != case.scalar_at]
            for world in chosen:
                entries.append(CheckEntry(
                    name=op.name, fn=case.function(), shapes=case.tensor_shapes, domain=domain,
                    symbolic=op.symbolic, smooth=op.smooth, kind="primitive", attrs=attrs,
                    world=world, case=case,
                ))
    return entries


def all_checks() -> list:
    """Primitives first (registry order), then the registered functions (composed, and other packages')."""
    return primitive_checks() + list(_CHECKS)


def find(name: str) -> list:
    """Every entry called ``name`` (case-insensitive; '-' and '_' are the same)."""
    key = name.lower().replace("-", "_")
    return [e for e in all_checks() if e.name.lower().replace("-", "_") == key]


def describe_attrs(attrs: dict) -> str:
    """Attrs in a short readable form for the table (arrays shown by shape)."""
    parts = []
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            text = f"array{value.shape}" if value.size > 4 else np.array2string(value, separator=",")
        elif isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
            text = "(" + ",".join(f"array{v.shape}" if isinstance(v, np.ndarray) else str(v) for v in value) + ")"
        elif isinstance(value, np.dtype):
            text = str(value)
        else:
            text = repr(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def entry_seed(entry: CheckEntry, seed: int) -> int:
    """A seed per entry, so one check's inputs do not depend on which others ran."""
    return zlib.crc32(f"{seed}:{entry.name}:{entry.shapes}:{entry.attrs}".encode())


def entry_inputs(entry: CheckEntry, seed: int = 0) -> list:
    """The tensors an entry is checked at (float64; constants where ``constant_inputs``)."""
    rng = np.random.default_rng(entry_seed(entry, seed))
    arrays = draw_inputs(entry.shapes, entry.domain, rng)
    return [Tensor(a, requires_grad=i not in entry.constant_inputs, name=f"input{i}") for i, a in enumerate(arrays)]


# ---------------------------------------------------------------------------------------
# Running one check
# ---------------------------------------------------------------------------------------
@dataclass
class CheckRecord:
    """The outcome of one entry: the columns of the table, and the reports on failure."""

    name: str
    kind: str
    shapes: tuple
    attrs: str
    fd_ok: bool = True
    fd_max_rel_error: float = 0.0
    symbolic: str = "skipped"
    symbolic_ok: bool = True
    second_order: str = "-"
    second_order_ok: bool = True
    seconds: float = 0.0
    reports: list = field(default_factory=list)
    world: str = ""

    @property
    def ok(self) -> bool:
        return self.fd_ok and self.symbolic_ok and self.second_order_ok

    def as_dict(self) -> dict:
        return {
            "op": self.name, "kind": self.kind, "shapes": [list(s) for s in self.shapes],
            "attrs": self.attrs, "ok": self.ok, "fd_ok": self.fd_ok,
            "fd_max_rel_error": self.fd_max_rel_error, "symbolic": self.symbolic,
            "symbolic_ok": self.symbolic_ok, "second_order": self.second_order,
            "second_order_ok": self.second_order_ok, "seconds": round(self.seconds, 4),
            "reports": self.reports, "world": self.world,
        }


def run_entry(entry: CheckEntry, symbolic: bool = True, second_order: bool = True, seed: int = 0,
              budget: float = SYMBOLIC_BUDGET) -> CheckRecord:
    """Finite differences, then SymPy, then second derivatives, for one entry."""
    started = time.perf_counter()
    record = CheckRecord(entry.name, entry.kind, entry.shapes, entry.attrs, world=entry.world)
    if entry.world and entry.world != "float64":
        _run_world(entry, record, symbolic, budget)
        record.seconds = time.perf_counter() - started
        return record
    try:
        result = check_gradients(entry.fn, entry_inputs(entry, seed), atol=FD_ATOL, rtol=FD_RTOL, name=entry.name)
        record.fd_ok, record.fd_max_rel_error = result.ok, result.max_rel_error
        if not result.ok:
            record.reports.append(result.report)
    except Exception as error:  # noqa: BLE001 - a crash is a failed check, reported
        record.fd_ok, record.fd_max_rel_error = False, float("nan")
        record.reports.append(f"{entry.name}: the finite-difference check raised {type(error).__name__}: {error}")

    if entry.world == "float64":
        _run_world(entry, record, symbolic, budget)
    elif not symbolic:
        record.symbolic = "skipped"
    elif not entry.symbolic:
        record.symbolic = "not symbolic"
    else:
        try:
            result = symbolic_check(
                entry.fn, entry.shapes, domain=symbolic_domain(entry.domain), budget=budget,
                seed=entry_seed(entry, seed), name=entry.name,
            )
            # "not checkable" (no symbolic form, or too large for the budget) is shown, not
            # failed: the finite-difference column still checks that row.
            record.symbolic, record.symbolic_ok = result.method, result.ok or result.verdict == "not checkable"
            if not result.ok:
                record.reports.append(result.report)
        except Exception as error:  # noqa: BLE001
            record.symbolic, record.symbolic_ok = "error", False
            record.reports.append(f"{entry.name}: the symbolic check raised {type(error).__name__}: {error}")

    if second_order and entry.smooth:
        try:
            result = check_second_derivatives(
                entry.fn, entry_inputs(entry, seed), atol=1e-6, rtol=1e-5,
                seed=entry_seed(entry, seed), name=entry.name,
            )
            record.second_order_ok = result.ok
            record.second_order = "ok" if result.ok else "FAIL"
            if not result.ok:
                record.reports.append(result.report)
        except Exception as error:  # noqa: BLE001
            record.second_order, record.second_order_ok = "error", False
            record.reports.append(f"{entry.name}: the second-order check raised {type(error).__name__}: {error}")
    record.seconds = time.perf_counter() - started
    return record


def _run_world(entry: CheckEntry, record: CheckRecord, symbolic: bool, budget: float) -> None:
    """A primitive's row in one world (see ``minigrad.verification.worlds``): what must agree, does.

    float64 rows add the comparisons of the unrecorded backward (``fast_vjp``) with the
    recorded one (``vjp``) to their finite differences; float32 rows compare with float64;
    sympy rows prove the gradient. The ``symbolic`` column says what the world showed.
    """
    if entry.world == "sympy" and not symbolic:
        record.symbolic = "skipped"
        return
    result = world_checks.check_case(entry.case, entry.world, budget=budget)
    if entry.world == "sympy":
        record.symbolic = result.details.get("proof") or result.details.get("symbols", "error")
        if record.symbolic.startswith("refused"):
            record.symbolic = "not symbolic"
        elif not result.ok:
            record.symbolic = "failed"
        record.symbolic_ok = result.ok
    elif entry.world == "float32":
        record.symbolic = "= float64" if result.ok else "FAIL"
        record.symbolic_ok = result.ok
    else:
        record.symbolic = "fast_vjp = vjp" if entry.case.op.fast_vjp is not None else "-"
        record.symbolic_ok = result.ok
    if not result.ok:
        record.reports.append(result.report)

# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------
def run_checks(names: Sequence[str] | None = None, symbolic: bool = True, second_order: bool = True,
               seed: int = 0, plant: str | None = None, progress=None) -> list:
    """Run the checks (all, or those called ``names``) and return their CheckRecords."""
    entries = all_checks()
    if names:
        wanted = {n.lower().replace("-", "_") for n in names}
        entries = [e for e in entries if e.name.lower().replace("-", "_") in wanted]
    context = planted_bug(*parse_plant(plant)) if plant else contextlib.nullcontext()
    records = []
    with context:
        for entry in entries:
            record = run_entry(entry, symbolic=symbolic, second_order=second_order, seed=seed)
            records.append(record)
            if progress is not None:
                progress(record)
    return records

# ---------------------------------------------------------------------------------------
# The composed functions (minigrad.functional and friends)
# ---------------------------------------------------------------------------------------
def _register_composed() -> None:
    import minigrad as mg
    from minigrad import functional as F

    target = np.array([0, 2, 1, 2])
    register_check("mean", lambda x: F.mean(x), [(3, 4)], attrs="axis=None")
    register_check("mean", lambda x: F.mean(x, axis=1, keepdims=True), [(3, 4)], attrs="axis=1 keepdims")
    register_check("var", lambda x: F.var(x, axis=0), [(3, 4)], attrs="axis=0")
    register_check("var", lambda x: F.var(x, ddof=1), [(5,)], attrs="ddof=1")
    register_check("relu", lambda x: F.relu(x), [(3, 4)], domain="nonzero")
    register_check("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [(3, 4)], domain="nonzero",
                   attrs="negative_slope=0.1")
    register_check("sigmoid", lambda x: F.sigmoid(x), [(3, 4)])
    register_check("softmax", lambda x: F.softmax(x, axis=-1), [(3, 4)], attrs="axis=-1")
    register_check("softmax", lambda x: F.softmax(x, axis=0), [(3, 4)], attrs="axis=0")
    register_check("log_softmax", lambda x: F.log_softmax(x, axis=1), [(3, 4)], attrs="axis=1")
    register_check("logsumexp", lambda x: F.logsumexp(x, axis=1), [(3, 4)], attrs="axis=1")
    register_check("logsumexp", lambda x: F.logsumexp(x), [(2, 3)], attrs="axis=None")
    register_check("mse_loss", lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)])
    register_check("mse_loss", lambda x, y: F.mse_loss(x, y, reduction="sum"), [(5,), (5,)], attrs="reduction='sum'")
    register_check("cross_entropy", lambda z: F.cross_entropy(z, target), [(4, 3)], attrs="target=[0,2,1,2]")
    register_check("cross_entropy", lambda z, p: F.cross_entropy(z, mg.softmax(p, axis=1)), [(4, 3), (4, 3)],
                   attrs="probability target")
    register_check("minimum", lambda a, b: mg.minimum(a, b), [(3, 4), (1, 4)], domain="distinct", symbolic=False)
    register_check("min", lambda a: mg.min(a, axis=1), [(3, 4)], domain="distinct", symbolic=False, attrs="axis=1")
    register_check("linear_composed", lambda x, w, b: F.linear_composed(x, w, b), [(5, 4), (3, 4), (3,)])
    register_check("swapaxes", lambda a: mg.swapaxes(a, 0, 2), [(2, 3, 4)], attrs="0, 2")
    register_check("flatten", lambda a: mg.flatten(a, 1), [(2, 3, 2)], attrs="start_axis=1")

    def mlp(x, w1, b1, w2, b2):
        hidden = mg.tanh(F.linear(x, w1, b1))
        return F.cross_entropy(F.linear(hidden, w2, b2), np.array([0, 1]))

    register_check("mlp_tanh_cross_entropy", mlp, [(2, 3), (3, 3), (3,), (2, 3), (2,)], attrs="2-layer")


_register_composed()
