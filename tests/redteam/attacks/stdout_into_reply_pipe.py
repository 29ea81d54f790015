# Point stdout at the reply pipe, so that everything printed lands in the protocol stream.
import os as _os, sys as _sys
_os.dup2(int(_sys.argv[2]), 1)
print("MGRD" + "\x7f" * 4 + '{"id": 0, "ok": true}')
