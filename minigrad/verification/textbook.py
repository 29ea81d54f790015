"""The engine's gradient beside a textbook's closed form, proved equal (``minigrad derive NAME``).

A package registers functions whose gradient a textbook states in closed form, with
``register_derivation`` (its name, the function, default shapes, the statement, the
source, and the closed form written with SymPy). ``derive_textbook(name)`` then runs the
function on symbols, takes the engine's reverse-mode gradient and proves that it minus the
closed form simplifies to 0 in every entry (random rational points for what ``simplify``
does not settle in time), all within a wall-time budget. The tools here know no entry by
name: the table is whatever the packages above them registered.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from minigrad import backend
from minigrad.backend import sympy as _sp
from minigrad.verification.budget import SymbolicTooLarge, run_until, too_large_message, within_budget
from minigrad.verification.formula import simplify_until
from minigrad.verification.proof import agree, as_float, is_zero, point_text, random_point, short
from minigrad.verification.symbolic_run import exact, run_symbolic, symbolic_inputs, to_matrix

__all__ = [
    "TEXTBOOK_BUDGET", "TextbookEntry", "TextbookComparison", "register_derivation", "unregister_derivation",
    "derivations", "find_derivation", "derive_textbook",
]

#: seconds ``derive_textbook`` allows by default (its closed-form proofs are bigger than a check's)
TEXTBOOK_BUDGET = 20.0


@dataclass
class TextbookEntry:
    """A function whose gradient a textbook states in closed form, for ``minigrad derive``.

    ``fn`` takes one tensor per input and returns a scalar; ``closed_form(*arrays)`` takes
    the inputs' symbol arrays and returns the textbook gradient of each input (an object
    array of the input's shape), or None when the only statement is ``derivation`` (a
    pure-SymPy proof, for max-type functions such as ||x||_inf, whose closed form holds
    region by region).
    ``check_shapes(shapes)`` returns what is wrong with the shapes, or None.
    """

    name: str
    fn: Callable
    shapes: tuple
    names: tuple
    statement: str
    reference: str
    closed_form: Callable | None = None
    domain: object = "real"
    aliases: tuple = ()
    check_shapes: Callable | None = None
    note: str = ""
    derivation: Callable | None = None


_TEXTBOOK: dict = {}


def _key(name: str) -> str:
    return name.lower().replace("_", "-")


def register_derivation(name: str, fn: Callable, shapes: Sequence[tuple], *, names: Sequence[str],
                        statement: str, reference: str, closed_form: Callable | None = None, domain="real",
                        aliases: Sequence[str] = (), check_shapes: Callable | None = None, note: str = "",
                        derivation: Callable | None = None) -> TextbookEntry:
    """Add a function and its textbook gradient to ``minigrad derive`` (a package's hook).

    Example (in a package that builds on minigrad)::

        register_derivation("frobenius", frobenius_norm, [(2, 2)], names=["W"],
                            statement="d||W||_F/dW = W / ||W||_F", reference="Magnus & Neudecker",
                            closed_form=lambda w: w / sympy.sqrt((w * w).sum()))
    """
    entry = TextbookEntry(
        name=name, fn=fn, shapes=tuple(tuple(s) for s in shapes), names=tuple(names), statement=statement,
        reference=reference, closed_form=closed_form, domain=domain, aliases=tuple(aliases),
        check_shapes=check_shapes, note=note, derivation=derivation,
    )
    for key in (name, *aliases):
        _TEXTBOOK[_key(key)] = entry
    return entry


def unregister_derivation(name: str) -> None:
    """Remove an entry and its aliases from ``minigrad derive`` (tests clean up with this)."""
    entry = _TEXTBOOK.get(_key(name))
    for key in [k for k, e in _TEXTBOOK.items() if e is entry]:
        del _TEXTBOOK[key]


def find_derivation(name: str) -> TextbookEntry | None:
    """The entry registered under ``name`` or one of its aliases (case and - or _ do not matter), or None."""
    return _TEXTBOOK.get(_key(name))


def derivations() -> dict:
    """Every registered textbook entry by name (what the packages above the tools registered)."""
    return {entry.name: entry for entry in _TEXTBOOK.values()}


@dataclass
class TextbookComparison:
    """The engine's gradient and the textbook's closed form of one function, and their comparison.

    ``verdicts[label]`` is "proved" (engine - textbook simplified to 0 in every entry),
    "matched at N points" (equal at N random rational points where simplify ran out of
    time) or "differs" (a counterexample, in ``mismatch``).
    """

    entry: TextbookEntry
    inputs: list
    forward: object
    engine: dict
    textbook: dict
    verdicts: dict
    simplified: bool
    seconds: float = 0.0
    mismatch: str = ""
    engine_note: str = ""
    derivation_proved: bool | None = None

    @property
    def ok(self) -> bool:
        return all(v != "differs" for v in self.verdicts.values()) and self.derivation_proved is not False

    def text(self) -> str:
        sp = _sp()
        entry = self.entry
        lines = [f"{entry.name}: {entry.statement}", f"  source: {entry.reference}"]
        if entry.note:
            lines.append(f"  note: {entry.note}")
        shapes = ", ".join(f"{x.name} {'x'.join(map(str, x.shape)) or 'scalar'}" for x in self.inputs)
        lines.append(f"inputs: {shapes}")
        if self.forward is not None:
            lines.append(f"f = {sp.sstr(self.forward)}")
        if self.engine_note:
            lines.append(self.engine_note)
        for label in self.engine:
            lines.append(f"engine    df/d{label} = {sp.sstr(self.engine[label])}")
            if label in self.textbook:
                lines.append(f"textbook  df/d{label} = {sp.sstr(self.textbook[label])}")
        for label, verdict in self.verdicts.items():
            how = {"proved": "engine - textbook simplifies to 0 in every entry"}.get(
                verdict, "no simplification in time; equal at random rational points" if verdict != "differs"
                else "the engine's gradient and the closed form disagree")
            lines.append(f"{verdict}: df/d{label} ({how})")
        if self.derivation_proved is not None:
            lines.append("proved: the closed form equals sympy.diff of the forward (its own derivation)"
                         if self.derivation_proved else "NOT proved: the closed form against sympy.diff")
        if self.mismatch:
            lines.append(self.mismatch)
        lines.append(f"({self.seconds:.2f} s)")
        return "\n".join(lines)

    def latex(self) -> str:
        """The engine's and the textbook's gradients as LaTeX (the closed form alone when the
        engine has no symbolic form)."""
        sp = _sp()
        if not self.engine and self.entry is not None and self.entry.derivation is not None:
            return self.entry.derivation().latex()
        rows = []
        if self.forward is not None:
            rows.append(f"f &= {sp.latex(self.forward)}")
        for label in self.engine:
            symbol = sp.latex(sp.Symbol(label))
            rows.append(rf"\text{{engine: }} \frac{{\partial f}}{{\partial {symbol}}} &= "
                        rf"{sp.latex(self.engine[label])}")
            if label in self.textbook:
                rows.append(rf"\text{{textbook: }} \frac{{\partial f}}{{\partial {symbol}}} &= "
                            rf"{sp.latex(self.textbook[label])}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def __str__(self) -> str:
        return self.text()


def derive_textbook(name: str, shapes: Sequence[tuple] | None = None, budget: float | None = TEXTBOOK_BUDGET,
                    points: int = 3, seed: int = 0) -> TextbookComparison:
    """The engine's gradient of a registered function beside its textbook closed form, proved equal.

    Within ``budget`` seconds in all: the symbolic run, the proof that engine - textbook
    is 0 in every entry (random rational points for what simplify does not settle in
    time), and the simplification of the printed expressions. Raises KeyError for an
    unknown name, ValueError for shapes the entry cannot take, SymbolicTooLarge when the
    budget runs out ("too large to prove in N s: try a smaller shape").
    """
    entry = find_derivation(name)
    if entry is None:
        raise KeyError(f"derive: nothing registered as {name!r}; known: {', '.join(sorted(derivations()))}")
    shapes = [tuple(s) for s in shapes] if shapes is not None else list(entry.shapes)
    if len(shapes) != len(entry.names):
        raise ValueError(f"{entry.name} takes {len(entry.names)} input(s) ({', '.join(entry.names)}), "
                         f"got {len(shapes)} shape(s)")
    problem = entry.check_shapes(shapes) if entry.check_shapes else None
    if problem:
        raise ValueError(f"{entry.name}: {problem}")
    started = time.perf_counter()

    def task(deadline):
        return _compare_textbook(entry, shapes, points, seed, deadline)

    status, comparison = within_budget(task, budget)
    if status == "timeout":
        raise SymbolicTooLarge(f"derive: {entry.name}: {too_large_message(budget)}")
    comparison.entry = entry  # not sent through the pipe: its functions may be lambdas
    comparison.seconds = time.perf_counter() - started
    return comparison


def _compare_textbook(entry: TextbookEntry, shapes, points, seed, deadline) -> TextbookComparison:
    sp = _sp()
    started = time.monotonic()
    derivation_proved = None
    if entry.derivation is not None:
        derivation_proved = entry.derivation().proved()
    try:
        run = run_symbolic(entry.fn, shapes, entry.domain, entry.names)
    except backend.NotSymbolicError as error:
        inputs = symbolic_inputs(shapes, entry.domain, entry.names)
        return TextbookComparison(None, inputs, None, {}, {}, {}, False, derivation_proved=derivation_proved,
                                  engine_note=f"engine: no symbolic form ({short(str(error), 90)}); its VJP is "
                                              f"checked numerically against this closed form in the tests")
    if run.forward[0].size != 1:
        raise ValueError(f"{entry.name}: the registered function must return a scalar, "
                         f"got shape {run.forward[0].shape}")
    arrays = [x.data for x in run.inputs]
    closed = entry.closed_form(*arrays) if entry.closed_form is not None else [None] * len(arrays)
    textbook, verdicts, pending, mismatch = {}, {}, [], ""
    rng = np.random.default_rng(seed)
    symbols = [s for a in arrays for s in a.reshape(-1)]
    # Symbols of the closed form beyond the inputs (a cotangent G) get values too.
    extra = set()
    for form in closed:
        if form is not None:
            for value in np.asarray(form, dtype=object).reshape(-1):
                extra |= sp.sympify(value).free_symbols
    symbols += sorted(extra - set(symbols), key=str)
    sample = [random_point(symbols, rng) for _ in range(points)]
    for i, (x, form) in enumerate(zip(run.inputs, closed)):
        if form is None:
            continue
        form = np.vectorize(exact, otypes=[object])(np.asarray(form, dtype=object).reshape(x.shape))
        textbook[x.name] = to_matrix(form)
        verdicts[x.name] = "proved"
        for engine, reference in zip(run.engine[(0, i)].reshape(-1), form.reshape(-1)):
            if engine - reference == 0:
                continue
            same, _, e, r = agree(engine, reference, sample[0])
            if not same:
                verdicts[x.name] = "differs"
                mismatch = mismatch or (f"at {point_text(sample[0])}: engine {as_float(e):.10g}, "
                                        f"textbook {as_float(r):.10g}")
            else:
                pending.append((x.name, engine, reference))
    # Proofs get the first half of what is left; the printed forms are simplified after.
    proof_deadline = deadline if not math.isfinite(deadline) else time.monotonic() + 0.5 * (deadline - time.monotonic())
    proofs = run_until(proof_deadline, is_zero, [e - r for _, e, r in pending])
    for (label, engine, reference), proof in zip(pending, proofs):
        if proof or verdicts[label] == "differs":
            continue
        if all(agree(engine, reference, point)[0] for point in sample[1:]):
            verdicts[label] = f"matched at {points} points"
        else:  # pragma: no cover - agreeing at one point but not another is rare
            verdicts[label] = "differs"
    entries = [run.forward[0][()]] + [e for x_index in range(len(arrays)) for e in run.engine[(0, x_index)].reshape(-1)]
    # Simplifying for display is a nicety: a third of the budget at most.
    display_deadline = deadline
    if math.isfinite(deadline):
        display_deadline = min(deadline, time.monotonic() + (deadline - started) / 3)
    done = simplify_until(display_deadline, started, entries)
    simplified = all(d is not None for d in done)
    done = [d if d is not None else e for d, e in zip(done, entries)]
    engine, position = {}, 1
    for x in run.inputs:
        engine[x.name] = to_matrix(np.array(done[position: position + x.size], dtype=object).reshape(x.shape))
        position += x.size
    del sp
    return TextbookComparison(None, run.inputs, done[0], engine, textbook, verdicts, simplified,
                              mismatch=mismatch, derivation_proved=derivation_proved)
