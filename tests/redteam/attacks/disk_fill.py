# Fill the disk: a large file in the working folder, another in /tmp.
import os as _os, signal as _signal
_signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
_chunk = b"\0" * (1 << 20)
for _path in ("fill.bin", "/tmp/redteam-fill.bin", "/dev/shm/redteam-fill.bin"):
    _written = 0
    try:
        with open(_path, "wb") as _file:
            for _ in range(512):
                _file.write(_chunk)
                _written += 1
    except OSError as _error:
        print(f"disk_fill: {_path} stopped after {_written} MiB: {type(_error).__name__}")
