"""The `minigrad` command: tour, check, graph, derive, grade, train, gan, assignment.

Each subcommand is a function ``cmd_<name>(args) -> int`` registered in ``COMMANDS``;
heavy modules are imported inside them so that ``minigrad --help`` stays instant.

Bad input (a wrong path, name or option) ends in one line on stderr, ``minigrad COMMAND:
what was wrong; what to do``, and exit code 2, never a traceback: argparse's errors are
folded to one line, and a command raises ``CommandError`` (or the coursework's
``AssignmentError``) for ``main`` to print. An OSError (a folder that does not exist, a
file that cannot be written) is reported the same way.
"""
from __future__ import annotations

import argparse
import sys


class CommandError(Exception):
    """Bad input to a command (a path, a name, a value): the user can fix it.

    Raise it from a command with a message that says what was wrong and what to do;
    ``main`` prints ``minigrad COMMAND: message`` as one line on stderr and exits with 2.
    """


def prepare_out_folder(out, option: str = "--out") -> None:
    """Create the folder ``out`` and write a probe file there, before a command's long work.

    A path that cannot be created or written fails at once, as a CommandError naming the
    option, instead of after minutes of training.
    """
    from pathlib import Path

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".minigrad-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise CommandError(f"cannot write into {option} {str(out)!r} ({error.strerror or error}); "
                           f"pass a folder you can create and write to") from None


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit 2), naming the command."""

    def error(self, message: str):
        print(f"{self.prog}: {message}; see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


def _one_line(text: str) -> str:
    """``text`` with its line breaks folded, so that an error stays one line on stderr."""
    return " ".join(str(text).split())


def _os_error_text(error: OSError) -> str:
    """What an OSError says about a path, without Python's errno prefix."""
    where = f" {error.filename}" if error.filename else ""
    return f"cannot use{where}: {error.strerror or error}; check that the path exists and that you can write there"


def _run(command: str, module: str, function: str, args) -> int:
    """Call ``<module>.<function>(args)``, or say the command is not there yet.

    The import is done here, not at the top, so that ``minigrad --help`` stays instant. Only
    the *absence* of the module or function counts as "not implemented"; an ImportError
    raised from inside an existing module is a real bug and propagates.
    """
    import importlib

    qualified = module
    try:
        loaded = importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name != qualified:
            raise
        loaded = None
    entry = getattr(loaded, function, None)
    if entry is None:
        print(f"minigrad {command}: not implemented yet", file=sys.stderr)
        return 2
    return entry(args)


def cmd_tour(args) -> int:
    return _run("tour", "norms.app.tour", "run", args)


def cmd_check(args) -> int:
    import norms.checks  # noqa: F401  (registers the norms' rows with the check table)

    return _run("check", "minigrad.verification.check_table", "run", args)


def cmd_graph(args) -> int:
    return _run("graph", "norms.app.graph_examples", "run", args)


def cmd_derive(args) -> int:
    return _run("derive", "norms.app.derive", "run", args)


def cmd_grade(args) -> int:
    return _run("grade", "minigrad.coursework.grading", "run", args)


def cmd_assignment(args) -> int:
    from minigrad.coursework import assignment

    return assignment.run(args)


def cmd_train(args) -> int:
    return _run("train", "norms.app.tour", "run_train", args)


def cmd_gan(args) -> int:
    # Imported here, not at the top: the GAN demo loads the norms and the optimisers, and
    # `minigrad --help` should not wait for them.
    from norms.app import gan

    return gan.run_cli(args)


def _add_tour(sub) -> None:
    parser = sub.add_parser("tour", help="reproduce the reference post, prove the gradients, train, write a report")
    parser.add_argument("--out", default="minigrad-tour", help="folder for graphs, plots and report.html")
    parser.add_argument("--quick", action="store_true", help="a seconds-long version (used by the tests)")
    parser.set_defaults(func=cmd_tour)


def _add_check(sub) -> None:
    parser = sub.add_parser("check", help="check every op's gradient (finite differences and SymPy)")
    parser.add_argument("--op", action="append", help="check only this op (repeatable)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    parser.add_argument("--no-symbolic", action="store_true", help="skip the SymPy checks")
    parser.add_argument("--verbose", action="store_true", help="print every failed check's report, not only the first")
    parser.set_defaults(func=cmd_check)


def _add_graph(sub) -> None:
    parser = sub.add_parser("graph", help="draw an example computation graph")
    parser.add_argument("example", help="frobenius, spectral-norm, weight-norm, pixel-norm, mlp, mlp-spectral")
    parser.add_argument("--out", required=True, help="output file: .svg, .png, .pdf or .dot")
    parser.add_argument("--backward", action="store_true", help="show the backward pass (gradients and VJPs)")
    parser.set_defaults(func=cmd_graph)


def _add_derive(sub) -> None:
    parser = sub.add_parser("derive", help="print a norm's gradient as a formula (text and LaTeX)")
    parser.add_argument("what", help="a norm (frobenius, spectral, weight-norm, layer-norm, rms-norm, pixel-norm, "
                                     "batch-norm, nuclear, ...) or any op of `minigrad check`")
    parser.add_argument("--shape", action="append", default=None,
                        help="shape of one symbolic input, e.g. 2x3; repeat it once per input, in order")
    parser.add_argument("--latex", action="store_true")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds allowed for the whole derivation and proof (default 20)")
    parser.set_defaults(func=cmd_derive)


def _add_grade(sub) -> None:
    parser = sub.add_parser("grade", help="grade a student's assignment folder against the instructor's copy")
    parser.add_argument("directory", help="the submission: one assignment folder, or a folder of them")
    parser.add_argument("--source", default=None,
                        help="the instructor's copy (assignments, solutions, hidden checks); without it: a self-check")
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument("--format", choices=["table", "json", "gradescope"], default=None)
    parser.add_argument("--out", default=None, help="write the report to this file instead of printing it")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per task")
    parser.add_argument("--jobs", type=int, default=None, help="tasks graded at the same time (default: CPUs)")
    parser.set_defaults(func=cmd_grade)


def _add_train(sub) -> None:
    parser = sub.add_parser("train", help="train a small MLP with and without spectral norm on a toy 2-D problem")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default=None, help="folder for the plots")
    parser.set_defaults(func=cmd_train)


def _add_assignment(sub) -> None:
    parser = sub.add_parser("assignment", help="release the student version of an assignment, or export an autograder")
    parser.add_argument("action", choices=["release", "export"])
    parser.add_argument("source", help="an assignment folder (or a folder of them), with solutions")
    parser.add_argument("out", help="release: folder for the student version; export: the autograder .zip")
    parser.add_argument("--force", action="store_true", help="release into a folder that is not empty")
    parser.add_argument("--gradescope", action="store_true", help="export: Gradescope's autograder format")
    parser.set_defaults(func=cmd_assignment)


def _add_gan(sub) -> None:
    parser = sub.add_parser("gan", help="train a GAN on a ring of 8 Gaussians (and 8x8 digits) with and without "
                                        "spectral norm, over seeds")
    parser.add_argument("--quick", action="store_true", help="the ring only, in under 2 minutes")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per arm (default 5)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps of the ring GAN (default 1500 with --quick, else 4000)")
    parser.add_argument("--out", default="minigrad-gan", help="folder for gan.json and the pictures")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the ring runs (default 2)")
    parser.set_defaults(func=cmd_gan)


COMMANDS = [_add_tour, _add_check, _add_graph, _add_derive, _add_grade, _add_train, _add_gan, _add_assignment]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="minigrad",
        description="A small autograd engine over NumPy and SymPy, and the norms built on it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _user_errors() -> tuple:
    """The exception classes that mean bad input from the user, not a bug in minigrad."""
    from minigrad.coursework.assignment import AssignmentError

    return (CommandError, AssignmentError)


def main(argv=None) -> int:
    """Run one ``minigrad`` command; bad input ends in one line on stderr and exit code 2."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    command = f"minigrad {args.command}"
    if unknown:
        print(f"{command}: unrecognized arguments: {' '.join(unknown)}; see `{command} --help`", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _user_errors() as error:
        print(f"{command}: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        # A file the user named cannot be read or written (missing folder, no permission).
        print(f"{command}: {_os_error_text(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
