# Become root again, then read the solution.
import os as _os
for _call in (lambda: _os.setuid(0), lambda: _os.setgid(0), lambda: _os.setgroups([0])):
    try:
        _call()
    except OSError as _error:
        print("setuid_escape:", type(_error).__name__)
try:
    with open("$SOLUTION") as _file:
        exec(compile(_file.read(), "stolen", "exec"), globals())
    _STOLEN = True
except OSError as _error:
    print("setuid_escape: read", type(_error).__name__)
