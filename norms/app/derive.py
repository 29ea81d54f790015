"""``minigrad derive NAME``: a norm's gradient beside its textbook closed form, or any op's as a formula.

The norms' closed forms are registered by ``norms.derivations`` (with
``minigrad.verification.register_derivation``); for them the command prints the engine's
gradient beside the textbook's and proves the two equal (``derive_textbook``). For any
other op or function of ``minigrad check`` it prints the engine's gradient as a formula
(``derive``). Bad input is one line on stderr naming the command, exit 2; a budget
overrun is one line too, exit 1.
"""
from __future__ import annotations

import math
import sys

# Imported for what they register: the norms' closed forms, and their rows of the check
# table (which makes them derivable by name as formulas too).
import norms.checks
import norms.derivations  # noqa: F401
from minigrad.verification import checks
from minigrad.verification.budget import SymbolicTooLarge
from minigrad.verification.domains import symbolic_domain
from minigrad.verification.formula import derive
from minigrad.verification.textbook import TEXTBOOK_BUDGET, derivations, derive_textbook, find_derivation

COMMAND = "minigrad derive"


def parse_shape(text: str) -> tuple:
    """"2x3" -> (2, 3); "scalar" or "()" -> (); raises ValueError with what is accepted."""
    cleaned = text.strip().lower()
    if cleaned in ("scalar", "()", ""):
        return ()
    parts = cleaned.split("x")
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--shape {text!r} is not a shape; write sizes >= 1 joined by x, e.g. 2x3 (or 'scalar')")
    return tuple(int(p) for p in parts)


def run(args) -> int:
    """``minigrad derive NAME [--shape 2x3]... [--latex] [--budget S]``.

    For a norm (see ``derivations()``): the engine's gradient beside the textbook closed
    form, proved equal. For any other op or function of ``minigrad check``: the engine's
    gradient as a formula. One ``--shape`` per input, in input order.
    """
    what = args.what
    raw = getattr(args, "shape", None) or []
    raw = [raw] if isinstance(raw, str) else list(raw)
    budget = getattr(args, "budget", None)
    budget = TEXTBOOK_BUDGET if budget is None else budget
    if not budget > 0 or math.isinf(budget):
        print(f"{COMMAND}: --budget must be a number of seconds > 0, got {budget!r}", file=sys.stderr)
        return 2
    try:
        shapes = [parse_shape(text) for text in raw] or None
    except ValueError as error:
        print(f"{COMMAND}: {error}", file=sys.stderr)
        return 2
    latex = getattr(args, "latex", False)
    try:
        if find_derivation(what) is not None:
            result = derive_textbook(what, shapes, budget=budget)
            print(result.latex() if latex else result.text())
            return 0 if result.ok else 1
        return _derive_any(what, shapes, budget, latex)
    except SymbolicTooLarge as error:
        print(f"{COMMAND}: {str(error).removeprefix('derive: ')}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, IndexError, TypeError) as error:
        # Shapes the function cannot take (a matmul of 2x3 and 2x3, a 1-D weight for spectral).
        text = " ".join(str(error.args[0] if isinstance(error, KeyError) and error.args else error).split())
        print(f"{COMMAND}: {text}", file=sys.stderr)
        return 2


def _derive_any(what: str, shapes, budget: float, latex: bool) -> int:
    """The engine's gradient of an op or function of ``minigrad check``, as a formula."""
    found = checks.find(what)
    if not found:
        print(f"{COMMAND}: no norm or function named {what!r}; norms: {', '.join(sorted(derivations()))}; "
              f"or any op of `minigrad check` (e.g. mul, tanh, softmax)", file=sys.stderr)
        return 2
    check = found[0]
    if shapes is not None and len(shapes) != len(check.shapes):
        print(f"{COMMAND}: {check.name} takes {len(check.shapes)} input(s), got {len(shapes)} --shape; "
              f"give one --shape per input, in order", file=sys.stderr)
        return 2
    formula = derive(check.fn, shapes or list(check.shapes), domain=symbolic_domain(check.domain),
                     name=check.name.replace("-", "_"), budget=budget)
    print(formula.latex() if latex else formula.text())
    return 0
