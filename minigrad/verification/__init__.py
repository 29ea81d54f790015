"""Verification tools on the engine: is a gradient right?

Three ways, from sampled to proved:

* ``gradcheck`` / ``gradgradcheck``: central finite differences against reverse mode
  (modules ``gradcheck``, ``jacobians``, ``diagnosis``);
* ``symbolic_check``: the engine's gradient on SymPy symbols against ``sympy.diff``,
  proved or matched at rational points within a wall-time budget (``symbolic``,
  ``symbolic_run``, ``proof``, ``budget``); ``derive`` prints a gradient as a formula
  (``formula``) and ``derive_textbook`` proves it equal to a registered closed form
  (``textbook``);
* the check table behind ``minigrad check``: every primitive in every data world
  (``worlds``) and every registered function (``checks``, ``domains``, ``planted``,
  ``check_table``).

Packages built on the engine register their own rows with ``register_check`` and their
closed forms with ``register_derivation``; these tools import nothing above the engine.
"""
from minigrad.verification.budget import DEFAULT_BUDGET, SymbolicTooLarge
from minigrad.verification.checks import CheckEntry, register_check, run_checks, unregister_check
from minigrad.verification.diagnosis import diagnose, locate_wrong_vjps
from minigrad.verification.formula import GradientFormula, derive
from minigrad.verification.gradcheck import (
    GradcheckError, GradcheckResult, GradcheckWarning, check_gradients, check_second_derivatives, gradcheck,
    gradgradcheck,
)
from minigrad.verification.planted import planted_bug
from minigrad.verification.symbolic import VERDICTS, SymbolicResult, numeric_check, symbolic_check
from minigrad.verification.symbolic_run import SymbolicRun, run_symbolic, substitute, symbolic_inputs, to_matrix
from minigrad.verification.textbook import (
    TextbookComparison, TextbookEntry, derivations, derive_textbook, find_derivation, register_derivation,
    unregister_derivation,
)

__all__ = [
    "gradcheck", "gradgradcheck", "check_gradients", "check_second_derivatives", "GradcheckError",
    "GradcheckResult", "GradcheckWarning", "diagnose", "locate_wrong_vjps",
    "symbolic_check", "numeric_check", "SymbolicResult", "VERDICTS", "DEFAULT_BUDGET", "SymbolicTooLarge",
    "run_symbolic", "SymbolicRun", "symbolic_inputs", "substitute", "to_matrix", "derive", "GradientFormula",
    "register_derivation", "unregister_derivation", "derivations", "find_derivation", "derive_textbook",
    "TextbookEntry", "TextbookComparison",
    "register_check", "unregister_check", "CheckEntry", "run_checks", "planted_bug",
]
