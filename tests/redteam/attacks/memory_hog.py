# Take 3 GiB at import.
import numpy as _np
try:
    _hog = _np.ones((3 << 30) // 8)
    print("memory_hog: allocated 3 GiB")
except MemoryError:
    print("memory_hog: memory-limit-hit")
    raise
