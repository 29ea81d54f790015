"""``python -m minigrad``: the same as the installed ``minigrad`` command.

The command line belongs to the application layer, above the engine, so the engine does not
import it: it looks up the console script that the package installs and runs that.
"""
import sys
from importlib.metadata import entry_points


def _main() -> int:
    scripts = entry_points(group="console_scripts", name="minigrad")
    if not scripts:
        print("python -m minigrad: the 'minigrad' command is not installed; run `pip install -e .` "
              "in the project folder (or `make setup`)", file=sys.stderr)
        return 2
    return next(iter(scripts)).load()()


raise SystemExit(_main())
