"""``minigrad check``: the table of every check, a summary of what failed, the reports.

The checks themselves are in ``checks`` (what is checked, and how); this module runs them
all (or those named with ``--op``), prints one row per check as it goes, and ends with the
counts, a short summary of the failures (which VJP, which hint) and the first report.
A package that registers its own checks (with ``checks.register_check``) is imported by
its application before ``run`` is called.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Sequence

from minigrad.verification.checks import CheckRecord, all_checks, run_checks
from minigrad.verification.planted import PLANT_KINDS, parse_plant

__all__ = ["HEADER", "DETAIL_LINES", "failure_summary", "run", "main"]


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

    if names:
        known = {e.name.lower().replace("-", "_") for e in all_checks()}
        unknown = [n for n in names if n.lower().replace("-", "_") not in known]
        if unknown:
            print(f"minigrad check: no op or function named {', '.join(map(repr, unknown))}; pass --op with "
                  f"one of: {', '.join(sorted({e.name for e in all_checks()}))}", file=sys.stderr)
            return 2
    if plant:
        name, kind = parse_plant(plant)
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
    """``python -m minigrad.verification.check_table [--op NAME] [--json] [--no-symbolic] [--plant-bug OP[:KIND]]``.

    Only the engine's own checks: a package's rows join when its application imports it.
    """
    parser = argparse.ArgumentParser(prog="python -m minigrad.verification.check_table",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--op", action="append")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-symbolic", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every failed check's report")
    parser.add_argument("--plant-bug", default=None, help="spoil a primitive's VJP: OP[:double|sign|zero|transpose]")
    return run(parser.parse_args(argv))




if __name__ == "__main__":
    raise SystemExit(main())
