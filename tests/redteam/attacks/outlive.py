# Leave processes behind: a double-forked, setsid'd sleeper and a new-session subprocess.
import os as _os, subprocess as _subprocess, sys as _sys
_subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(120)", "redteam-sleeper"], start_new_session=True,
                  stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        _os.execv(_sys.executable, [_sys.executable, "-c", "import time; time.sleep(120)", "redteam-sleeper"])
    _os._exit(0)
