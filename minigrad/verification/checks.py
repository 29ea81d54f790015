"""``minigrad check``: every gradient in the library, checked two ways, in one table.

What is checked
    * every registered primitive (``minigrad.ops.REGISTRY``), once per entry of its
      ``examples`` list (input shapes, attrs), on inputs drawn from its ``domain``;
    * every composed function registered here with :func:`register_check` (mean, var,
      relu, softmax, cross_entropy, ...). Other packages add theirs the same way: the
      ``norms`` package (imported by :func:`load_plugins` when installed) registers its
      primitives in the REGISTRY and may call ``register_check`` for composed norms,
      directly or from a ``norms.checks`` module.

How
    1. central finite differences (``gradcheck``, float64, the full Jacobian), with the
       tight tolerance ``|a - n| <= 1e-7 + 1e-6 |n|``;
    2. SymPy (``symbolic_check``): "proved" when the engine's gradient minus ``sympy.diff``
       simplifies to 0, "matched at N points" when only exact evaluation at rational points
       was affordable, "not symbolic" for ops without a SymPy form (max, svd);
    3. second derivatives (``gradgradcheck``) for ops whose VJP is smooth.

A planted bug shows the checks bite: ``MINIGRAD_PLANT_BUG=mul`` (or ``mul:sign``,
``matmul:transpose``, ``exp:zero``; the default kind is ``double``) spoils that primitive's
VJP for the run, and ``minigrad check`` exits 1.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minigrad.tensor import Tensor

#: the tolerance of ``minigrad check``'s finite-difference column (PyTorch's is 1e-5 / 1e-3)
FD_ATOL = 1e-7
FD_RTOL = 1e-6
#: seconds each symbolic proof may take before falling back to rational points
SYMBOLIC_BUDGET = 10.0
#: packages that register their own checks when imported
PLUGINS = ("norms",)
#: the kinds of planted bug ``MINIGRAD_PLANT_BUG=<op>:<kind>`` knows
PLANT_KINDS = ("double", "sign", "zero", "transpose")


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
        register_check("frobenius", lambda a: norms.frobenius(a), [(3, 4)], kind="norm")
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


def load_plugins() -> None:
    """Import the packages that register checks (``norms``), when they are installed."""
    for package in PLUGINS:
        if importlib.util.find_spec(package) is None:
            continue
        importlib.import_module(package)
        if importlib.util.find_spec(f"{package}.checks") is not None:
            importlib.import_module(f"{package}.checks")


def primitive_checks(worlds: Sequence[str] | None = None) -> list:
    """One entry per (primitive, example, world), read from the REGISTRY at call time.

    The examples include, for binary elementwise ops, a Python number as either operand
    (see ``minigrad.verification.worlds.cases``). ``worlds`` picks some of float64, float32, sympy.
    """
    from minigrad.verification import worlds as world_checks
    from minigrad.ops import REGISTRY

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
    """Primitives first (registry order), then composed functions and plugins."""
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


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------
def draw_inputs(shapes: Sequence[tuple], domain, rng: np.random.Generator) -> list:
    """Float64 arrays for the given shapes, from the domain (one for all, or one per input).

    real: standard normal. positive: uniform on [0.5, 2]. nonzero: +-uniform on [0.5, 2]
    (away from the kink of |x| and the pole of 1/x). distinct: all entries of all inputs
    different by at least 0.2, so max and maximum never meet a tie within eps.
    """
    shapes = [tuple(s) for s in shapes]
    domains = [domain] * len(shapes) if isinstance(domain, str) else list(domain)
    if "distinct" in domains:
        total = sum(int(np.prod(s)) for s in shapes)
        pool = (rng.permutation(total) - total / 2) * 0.3 + rng.uniform(-0.05, 0.05, size=total)
        arrays, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            arrays.append(pool[start: start + size].reshape(shape))
            start += size
        return arrays
    arrays = []
    for shape, kind in zip(shapes, domains):
        if kind == "positive":
            arrays.append(rng.uniform(0.5, 2.0, size=shape))
        elif kind == "nonzero":
            arrays.append(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


def _symbolic_domain(domain):
    """Symbols need assumptions, not draws: "distinct" is just "real" for SymPy."""
    if isinstance(domain, str):
        return "real" if domain == "distinct" else domain
    return ["real" if d == "distinct" else d for d in domain]


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
    from minigrad.verification.gradcheck import check_gradients, check_second_derivatives
    from minigrad.verification.symbolic import symbolic_check

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
                entry.fn, entry.shapes, domain=_symbolic_domain(entry.domain), budget=budget,
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
    from minigrad.verification.worlds import check_case

    if entry.world == "sympy" and not symbolic:
        record.symbolic = "skipped"
        return
    result = check_case(entry.case, entry.world, budget=budget)
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
# Planted bugs
# ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def planted_bug(op_name: str, kind: str = "double", target: str = "both"):
    """Spoil primitive ``op_name``'s VJP inside the block (restored afterwards).

    Kinds: double (every gradient times 2), sign (negated), zero (all zeros), transpose
    (last two axes swapped when square; otherwise reversed along the last axis).
    ``target`` says which VJP is spoiled: "vjp" (the tensor formula), "fast_vjp" (the
    array-level one, for ops that have it) or "both".
    """
    from minigrad.ops import REGISTRY, mul, neg, swapaxes, getitem

    if op_name not in REGISTRY:
        raise KeyError(f"planted_bug: no primitive named {op_name!r}; known: {', '.join(sorted(REGISTRY))}")
    if kind not in PLANT_KINDS:
        raise ValueError(f"planted_bug: kind must be one of {', '.join(PLANT_KINDS)}, got {kind!r}")
    if target not in ("vjp", "fast_vjp", "both"):
        raise ValueError(f"planted_bug: target must be 'vjp', 'fast_vjp' or 'both', got {target!r}")
    op = REGISTRY[op_name]
    if target == "fast_vjp" and op.fast_vjp is None:
        raise ValueError(f"planted_bug: primitive {op_name!r} has no fast_vjp to spoil")

    def spoil(g):
        if g is None:
            return None
        if kind == "double":
            return mul(g, 2.0)
        if kind == "sign":
            return neg(g)
        if kind == "zero":
            return mul(g, 0.0)
        if g.ndim >= 2 and g.shape[-1] == g.shape[-2]:
            return swapaxes(g, -1, -2)
        return getitem(g, (Ellipsis, slice(None, None, -1))) if g.ndim else mul(g, 2.0)

    names = ("vjp", "fast_vjp") if target == "both" else (target,)
    names = tuple(n for n in names if getattr(op, n) is not None)
    saved = {n: op.__dict__[n] for n in names if n in op.__dict__}

    def spoiled(original):
        def wrong_vjp(ctx, grad):
            return tuple(spoil(g) for g in original(ctx, grad))

        return staticmethod(wrong_vjp)

    for n in names:
        setattr(op, n, spoiled(getattr(op, n)))
    try:
        yield op
    finally:
        for n in names:
            if n in saved:
                setattr(op, n, saved[n])
            else:
                delattr(op, n)


def _parse_plant(value: str) -> tuple:
    name, _, kind = value.partition(":")
    return name.strip(), (kind.strip() or "double")


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------
def run_checks(names: Sequence[str] | None = None, symbolic: bool = True, second_order: bool = True,
               seed: int = 0, plant: str | None = None, progress=None) -> list:
    """Run the checks (all, or those called ``names``) and return their CheckRecords."""
    load_plugins()
    entries = all_checks()
    if names:
        wanted = {n.lower().replace("-", "_") for n in names}
        entries = [e for e in entries if e.name.lower().replace("-", "_") in wanted]
    context = planted_bug(*_parse_plant(plant)) if plant else contextlib.nullcontext()
    records = []
    with context:
        for entry in entries:
            record = run_entry(entry, symbolic=symbolic, second_order=second_order, seed=seed)
            records.append(record)
            if progress is not None:
                progress(record)
    return records


def _table_row(record: CheckRecord) -> str:
    shapes = ", ".join(str(s) for s in record.shapes)
    if record.world in ("float32", "sympy"):
        fd = "-"  # finite differences run in the float64 row
    else:
        fd = f"{record.fd_max_rel_error:.1e}" if record.fd_max_rel_error == record.fd_max_rel_error else "error"
    status = "ok" if record.ok else "FAIL"
    world = record.world or "f64+sympy"
    return (f"{record.name:<20} {world:<9} {shapes:<28.28} {record.attrs:<26.26} {fd:>10} "
            f"{record.second_order:>6}  {record.symbolic:<20} {record.seconds:>6.2f}s  {status}")


HEADER = (f"{'op':<20} {'world':<9} {'shapes':<28} {'attrs':<26} {'FD max rel':>10} {'2nd':>6}  "
          f"{'symbolic':<20} {'time':>7}  result")


#: Without --verbose, a failed check prints this many lines of its first report.
DETAIL_LINES = 25


def _record_title(record: CheckRecord) -> str:
    world = f" [{record.world}]" if getattr(record, "world", "") else ""
    return f"{record.name} {', '.join(str(s) for s in record.shapes)} {record.attrs}".rstrip() + world


def failure_summary(failed: Sequence[CheckRecord]) -> list:
    """A few lines on what failed: the ops and rows, the VJPs the per-op search blames, the hints.

    The hints and the blamed VJPs are read from the reports (lines ``hint: ...`` and ``op 'NAME'
    (node i of n), input k ...``), each said once however many rows repeat it.
    """
    import re

    rows: dict = {}
    blamed: dict = {}
    hints: list = []
    kinds: set = set()
    for record in failed:
        rows[record.name] = rows.get(record.name, 0) + 1
        for report in record.reports:
            for line in report.splitlines():
                text = line.strip()
                if text.startswith("hint:"):
                    # the same advice about other entries or rows is said once
                    kind = re.sub(r"\([^)]*\)|\d+", "#", text)
                    if kind not in kinds:
                        kinds.add(kind)
                        hints.append(text)
                match = re.match(r"op '([^']+)' \(node [^)]*\), input (\d+)", text)
                if match:
                    blamed.setdefault(match.group(1), set()).add(int(match.group(2)))
    where = ", ".join(f"{name} ({count} row{'s' if count > 1 else ''})" for name, count in rows.items())
    lines = [f"FAILED: {where}"]
    for name, inputs in blamed.items():
        which = ", ".join(str(i) for i in sorted(inputs))
        lines.append(f"  each VJP checked on its own points at op '{name}' "
                     f"(the gradient of its input{'s' if len(inputs) > 1 else ''} {which})")
    lines.extend(f"  {hint}" for hint in hints[:4])
    if len(hints) > 4:
        lines.append(f"  ({len(hints) - 4} more kinds of hint in the details: --verbose)")
    return lines


def _print_summary(failed: Sequence[CheckRecord], out) -> None:
    for line in failure_summary(failed):
        print(line, file=out)


def _print_details(failed: Sequence[CheckRecord], out, verbose: bool) -> None:
    """The first failure's report (every report with ``verbose``), after the summary."""
    shown = failed if verbose else failed[:1]
    if not verbose:
        print(f"The first failure in detail (`--verbose` prints all {len(failed)}):", file=out)
    for record in shown:
        print(f"\n== {_record_title(record)}", file=out)
        lines = "\n".join(record.reports).splitlines()
        if not verbose and len(lines) > DETAIL_LINES:
            lines = lines[:DETAIL_LINES] + [f"... {len(lines) - DETAIL_LINES} more lines (--verbose)"]
        for line in lines:
            print(line, file=out)


def run(args) -> int:
    """Entry point of ``minigrad check`` (args from cli.py: op, json, no_symbolic, verbose)."""
    names = getattr(args, "op", None) or None
    if isinstance(names, str):
        names = [names]
    as_json = bool(getattr(args, "json", False))
    verbose = bool(getattr(args, "verbose", False))
    symbolic = not getattr(args, "no_symbolic", False)
    plant = getattr(args, "plant_bug", None) or os.environ.get("MINIGRAD_PLANT_BUG") or None
    out = sys.stdout

    load_plugins()
    if names:
        known = {e.name.lower().replace("-", "_") for e in all_checks()}
        unknown = [n for n in names if n.lower().replace("-", "_") not in known]
        if unknown:
            print(f"minigrad check: no op or function named {', '.join(map(repr, unknown))}; pass --op with "
                  f"one of: {', '.join(sorted({e.name for e in all_checks()}))}", file=sys.stderr)
            return 2
    if plant:
        name, kind = _parse_plant(plant)
        from minigrad.ops import REGISTRY

        if name not in REGISTRY or kind not in PLANT_KINDS:
            print(f"minigrad check: MINIGRAD_PLANT_BUG={plant!r} must be <primitive>[:<kind>] with a "
                  f"registered primitive and kind in {', '.join(PLANT_KINDS)}", file=sys.stderr)
            return 2
        print(f"minigrad check: planted bug: the VJP of '{name}' is spoiled ({kind})", file=sys.stderr)

    started = time.perf_counter()
    # A run over a few named ops takes seconds: its table is held back so that, when a row
    # fails, the summary (which VJP, which hint) comes first. The whole table is printed as
    # it goes, and its summary follows it.
    held_back = bool(names)
    table: list = []

    def emit(line: str) -> None:
        if held_back:
            table.append(line)
        else:
            print(line, file=out, flush=True)

    if not as_json:
        emit(HEADER)
        emit("-" * len(HEADER))

    def progress(record):
        if not as_json:
            emit(_table_row(record))

    records = run_checks(names, symbolic=symbolic, plant=plant, progress=progress)
    failed = [r for r in records if not r.ok]
    elapsed = time.perf_counter() - started
    if as_json:
        json.dump({
            "ok": not failed, "checks": len(records), "failed": len(failed),
            "seconds": round(elapsed, 3), "planted_bug": plant,
            "results": [r.as_dict() for r in records],
        }, out, indent=2, default=str)
        out.write("\n")
    else:
        proved = sum(1 for r in records if r.symbolic == "proved")
        matched = sum(1 for r in records if r.symbolic.startswith("matched"))
        # (a row too large to prove within its budget is no finding about the op, but it is
        # no proof either: the count says how many there were)
        too_large = sum(1 for r in records if r.symbolic.startswith("too large"))
        unproved = f", {too_large} too large to prove in the budget" if too_large else ""
        counts = (f"{len(records)} checks, {len(records) - len(failed)} passed, {len(failed)} failed; "
                  f"symbolic: {proved} proved, {matched} matched at points{unproved}; {elapsed:.1f} s")
        if failed and held_back:
            print(counts, file=out)
            _print_summary(failed, out)
            print(file=out)
        for line in table:
            print(line, file=out)
        print("-" * len(HEADER), file=out)
        print(counts, file=out)
        if failed:
            if not held_back:
                _print_summary(failed, out)
            _print_details(failed, out, verbose)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m minigrad.verification.checks [--op NAME] [--json] [--no-symbolic] [--plant-bug OP[:KIND]]``."""
    parser = argparse.ArgumentParser(prog="python -m minigrad.verification.checks", description=__doc__.split("\n")[0])
    parser.add_argument("--op", action="append")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-symbolic", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every failed check's report")
    parser.add_argument("--plant-bug", default=None, help="spoil a primitive's VJP: OP[:double|sign|zero|transpose]")
    return run(parser.parse_args(argv))


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


if __name__ == "__main__":
    raise SystemExit(main())
