# A fork bomb (bounded, so that a broken sandbox does not take the test machine down).
import os as _os, time as _time
_children = 0
for _ in range(300):
    try:
        if _os.fork() == 0:
            _time.sleep(120)
            _os._exit(0)
        _children += 1
    except OSError:
        break
print(f"fork_bomb: {_children} children before fork failed")
