# Lie about the protocol: a valid header whose array claims 2^40 entries.
import json as _json, os as _os, struct as _struct, sys as _sys, time as _time
_text = _json.dumps({"id": 0, "ok": True, "__arrays__": [[1 << 40]]}).encode()
_os.write(int(_sys.argv[2]), b"MGRD" + _struct.pack("<I", len(_text)) + _text)
_time.sleep(30)
