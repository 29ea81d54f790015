# Crash the interpreter.
import ctypes as _ctypes
_ctypes.string_at(0)
