# Lie about the protocol: a frame header that claims 2 GiB of JSON.
import os as _os, struct as _struct, sys as _sys, time as _time
_os.write(int(_sys.argv[2]), b"MGRD" + _struct.pack("<I", 2 ** 31))
_time.sleep(30)
