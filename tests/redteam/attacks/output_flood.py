# Print 1 GB (the grader must keep its own memory bounded).
import sys as _sys
_chunk = "x" * (1 << 20)
for _ in range(1024):
    _sys.stdout.write(_chunk)
_sys.stdout.flush()
