"""The sandboxed worker: imports one submission and answers the grader's requests.

Started by :mod:`minigrad.coursework.sandbox` as ``python -I -B -S worker.py REQUEST_FD
REPLY_FD`` in its own session. Before any student code runs it
  1. reads its configuration (the first frame: plain JSON) and sets the resource limits
     (address space, CPU seconds, file size, processes, no core files);
  2. as root: moves into new mount, network and IPC namespaces (no network at all), puts a
     size-limited tmpfs on its scratch folder, hides the folders it is told to hide, and
     makes the interpreter reachable for the unprivileged user it becomes in step 5;
  3. sets ``sys.path`` itself: the standard library, the grader's site-packages, a folder
     that holds only ``minigrad``, and last the submission's copy (so a ``numpy.py`` or
     ``pytest.py`` there cannot shadow the real one);
  4. restricts itself with Landlock where the kernel has it: read-only access to the
     interpreter, the libraries and its own copy of the submission, write access to its
     scratch folder only, no TCP, no signals or abstract sockets outside its own sandbox;
  5. as root: drops to the unprivileged uid the grader gave it;
and only then imports the submission, reports how that went, and answers requests until
the grader closes the pipe. Its answers are only ever *its* computations: the grader
compares them with references it computed elsewhere, so nothing here decides a score.
"""
from __future__ import annotations

import json
import os
import struct
import sys

# ---------------------------------------------------------------------------------------
# Setup (standard library only: nothing is importable from outside until step 3)
# ---------------------------------------------------------------------------------------
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 4096, 8192, 16384, 1 << 18
_CLONE_NEWNS, _CLONE_NEWNET, _CLONE_NEWIPC = 0x00020000, 0x40000000, 0x08000000


def _read_config(fd: int) -> dict:
    """The first frame, which carries no arrays (so no NumPy is needed to read it)."""
    def exact(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = os.read(fd, count - len(data))
            if not chunk:
                raise SystemExit(70)
            data += chunk
        return data

    start = exact(8)
    if start[:4] != b"MGRD":
        raise SystemExit(71)
    (length,) = struct.unpack("<I", start[4:])
    config = json.loads(exact(length).decode("utf-8"))
    config.pop("__arrays__", None)
    return config


def _set_limits(limits: dict) -> None:
    import resource

    names = {"address_space": resource.RLIMIT_AS, "cpu_seconds": resource.RLIMIT_CPU,
             "file_size": resource.RLIMIT_FSIZE, "processes": resource.RLIMIT_NPROC,
             "open_files": resource.RLIMIT_NOFILE}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, which in names.items():
        if limits.get(key):
            value = int(limits[key])
            # CPU: the soft limit sends SIGXCPU (a clear reason), the hard one a second later kills
            hard = value + 1 if key == "cpu_seconds" else value
            resource.setrlimit(which, (value, hard))


def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _mount(libc, ctypes, source, target, fstype, flags, data) -> None:
    def enc(text):
        return text.encode() if isinstance(text, str) else text

    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def _isolate_as_root(config: dict) -> None:
    """New namespaces, a size-limited scratch tmpfs, hidden folders, a reachable interpreter."""
    ctypes, libc = _libc()
    if libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare: {os.strerror(error)}")
    _mount(libc, ctypes, None, "/", None, _MS_REC | _MS_PRIVATE, None)
    uid = config["uid"]
    _mount(libc, ctypes, "tmpfs", config["scratch"], "tmpfs", _MS_NOSUID | _MS_NODEV,
           f"size={int(config['scratch_bytes'])},mode=0700,uid={uid},gid={uid}")
    needed = [os.path.realpath(p) for p in config["read_paths"]]
    # The unprivileged uid must be able to walk to the interpreter (often under a 0700
    # home): put a tmpfs over the first closed folder and bind the needed children back in;
    # again for a closed folder further down, until every needed path is open.
    for number in range(32):
        closed: dict = {}
        for path in needed:
            parts = path.strip("/").split("/")
            for depth in range(1, len(parts)):
                ancestor = "/" + "/".join(parts[:depth])
                if os.stat(ancestor).st_mode & 0o005 != 0o005:
                    closed.setdefault(ancestor, set()).add(parts[depth])
                    break
        if not closed:
            break
        ancestor = min(closed, key=len)
        stage = os.path.join(config["stage"], str(number))
        staged = []
        for index, child in enumerate(sorted(closed[ancestor])):
            place = os.path.join(stage, str(index))
            os.makedirs(place, exist_ok=True)
            _mount(libc, ctypes, os.path.join(ancestor, child), place, None, _MS_BIND | _MS_REC, None)
            staged.append((child, place))
        _mount(libc, ctypes, "tmpfs", ancestor, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=0755")
        for child, place in staged:
            os.mkdir(os.path.join(ancestor, child))
            _mount(libc, ctypes, place, os.path.join(ancestor, child), None, _MS_MOVE, None)
    # A hidden folder must not cover what the worker itself needs (its own copy, the libraries).
    kept = needed + [os.path.realpath(config[key]) for key in ("code", "scratch", "lib", "stage")]
    for path in config.get("hide", []):
        if os.path.isdir(path) and not any(n == path or n.startswith(path.rstrip("/") + "/") for n in kept):
            _mount(libc, ctypes, "tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                   "size=4k,mode=000")


# Landlock (Linux 5.13+): an unprivileged process restricts itself and all its children.
_LL_FS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_LL_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_LL_FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)


def _landlock(config: dict) -> str:
    """Apply the Landlock rules; returns what was applied ("" when the kernel has none)."""
    ctypes, libc = _libc()
    abi = libc.syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)
    if abi < 1:
        return ""
    handled_fs = _LL_FS.get(abi, (1 << 16) - 1)
    handled_net = 0b11 if abi >= 4 else 0  # bind and connect TCP: no rule allows any port
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals stay inside
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = struct.pack("<QQQ", handled_fs, handled_net, scoped)[:size]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(444, buffer, ctypes.c_size_t(size), 0)
    if ruleset < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock_create_ruleset: {os.strerror(error)}")

    def allow(path: str, rights: int) -> None:
        if not os.path.exists(path):
            return
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= _LL_FILE_RIGHTS
            rule = ctypes.create_string_buffer(struct.pack("<Qi", rights & handled_fs, fd), 12)
            if libc.syscall(445, ruleset, 1, rule, 0) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"landlock_add_rule {path}: {os.strerror(error)}")
        finally:
            os.close(fd)

    for path in config["read_paths"] + [config["code"]] + config.get("system_paths", []):
        allow(path, _LL_READ)
    allow(config["scratch"], handled_fs)
    for device in ("/dev/null", "/dev/zero", "/dev/urandom"):
        allow(device, _LL_READ | (1 << 1))
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, which Landlock requires
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.syscall(446, ruleset, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock_restrict_self: {os.strerror(error)}")
    os.close(ruleset)
    return f"landlock ABI {abi}"


def _open_to_all(path: str) -> bool:
    """Can any user walk to ``path`` (every folder on the way world-executable and readable)?"""
    parts = os.path.realpath(path).strip("/").split("/")
    return all(os.stat("/" + "/".join(parts[:depth])).st_mode & 0o005 == 0o005 for depth in range(1, len(parts) + 1))


def _setup(config: dict) -> list:
    """Steps 1-5 of the module docstring; returns the protections that are in place."""
    applied = []
    _set_limits(config["limits"])
    applied.append("limits")
    as_root = config.get("uid") is not None
    namespaces = False
    if as_root:
        try:  # a container's root may lack CAP_SYS_ADMIN: then no namespaces, the rest still holds
            _isolate_as_root(config)
            namespaces = True
            applied.append("namespaces")
        except OSError as error:
            applied.append(f"no namespaces ({error.strerror or error})")
    # (Python 3.10 has no -P: drop the folder of this script, which -I alone leaves first)
    own = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and p != own] + config["site_paths"] + [config["lib"], config["code"]]
    os.chdir(config["scratch"])
    import numpy  # noqa: F401  (loaded before the restrictions: it reads /proc and /sys once)

    import minigrad
    import minigrad.testing  # noqa: F401
    if config.get("landlock", True):
        try:
            what = _landlock(config)
        except OSError as error:  # e.g. a seccomp profile that forbids the calls
            what = f"no landlock ({error})"
        if what:
            applied.append(what)
    # Without the mounts of step 2 the new uid can only run an interpreter every user may reach.
    if as_root and not namespaces and not all(_open_to_all(p) for p in config["read_paths"]):
        applied.append("uid kept: the interpreter is not readable by other users")
        as_root = False
    if as_root:
        uid = config["uid"]
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        applied.append(f"uid {uid}")
    return applied


# ---------------------------------------------------------------------------------------
# Serving (after setup: NumPy, minigrad and the protocol are importable)
# ---------------------------------------------------------------------------------------
def _type_name(value) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ in ("builtins", "numpy") else f"{kind.__module__}.{kind.__name__}"


def _as_result(value, what: str):
    """A function's result as arrays and lists (Tensor -> its data)."""
    import numpy as np

    from minigrad.tensor import Tensor

    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (list, tuple)):
        return [_as_result(item, f"{what}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(float(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"{what} is an array of dtype {value.dtype}, expected numbers")
        return value.astype(np.float64)
    raise TypeError(f"{what} is a {_type_name(value)}, expected a tensor, an array or a number")


class _Server:
    def __init__(self, module_name: str, reply_fd: int):
        self.module_name = module_name
        self.reply_fd = reply_fd
        self.module = None

    def send(self, message: dict) -> None:
        from minigrad.coursework.protocol import write_frame

        write_frame(self.reply_fd, message)

    def import_module(self) -> dict:
        import importlib

        try:
            self.module = importlib.import_module(self.module_name)
        except BaseException as error:  # noqa: BLE001 - whatever the import does is the report
            where = _where(error)
            return {"ok": False, "kind": type(error).__name__,
                    "error": f"your module {self.module_name} raised {type(error).__name__} while importing"
                             f"{where}: {error}"}
        return {"ok": True}

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        handler = {"primitive": self.primitive, "call": self.call, "describe": self.describe,
                   "tests": self.tests}.get(op)
        if handler is None:
            return {"ok": False, "kind": "ProtocolError", "error": f"unknown request {op!r}"}
        try:
            return {"ok": True, **handler(request)}
        except BaseException as error:  # noqa: BLE001
            return {"ok": False, "kind": type(error).__name__,
                    "error": f"{type(error).__name__}: {error}{_where(error)}"}

    def _primitive(self, name: str):
        from minigrad.ops.registry import REGISTRY

        op = REGISTRY.get(name)
        if op is None:
            raise LookupError(f"no primitive named '{name}' is registered: keep the class, its name and @register")
        return op

    def describe(self, request: dict) -> dict:
        op = self._primitive(request["name"])
        examples = [[[tuple(s) for s in shapes], dict(attrs)] for shapes, attrs in op.examples]
        return {"examples": examples, "domain": op.domain}

    def primitive(self, request: dict) -> dict:
        """Forward (and VJPs for the given upstream gradients) of a registered primitive."""
        import numpy as np

        import minigrad
        from minigrad.ops.registry import apply
        from minigrad.tensor import Tensor

        op = self._primitive(request["name"])
        wrt = request.get("wrt", [])
        batch = request.get("batch")
        if batch is not None:  # forwards only, for finite differences
            with minigrad.no_grad():
                outputs = [apply(op, *[Tensor(a) for a in inputs], **request["attrs"]) for inputs in batch]
                return {"outputs": [_as_result(output, "the output") for output in outputs]}
        tensors = [Tensor(a.copy(), requires_grad=i in wrt) for i, a in enumerate(request["inputs"])]
        out = apply(op, *tensors, **request["attrs"])
        result = {"output": _as_result(out, "the forward's output")}
        if not request.get("upstreams"):
            return result
        node = out._node
        if node is None:
            raise RuntimeError(f"{op.name}: the forward recorded no graph node, so there is no VJP to call")
        upstreams = request["upstreams"]
        if isinstance(upstreams, str) and upstreams == "onehot":  # one per output entry: whole Jacobian rows
            size = int(out.data.size)
            if size > 4096:
                raise ValueError(f"{op.name}: an output of {size} entries is too large for one-hot rows")
            upstreams = [np.eye(size, dtype=np.float64)[k].reshape(out.data.shape) for k in range(size)]
        rows = []
        for upstream in upstreams:
            with minigrad.no_grad():
                grads = op.vjp(node, Tensor(np.asarray(upstream, dtype=out.data.dtype)))
            if not isinstance(grads, (tuple, list)):
                raise TypeError(f"{op.name}: a VJP must return a tuple with one gradient per input, "
                                f"got {_type_name(grads)}")
            if len(grads) != len(tensors):
                raise TypeError(f"{op.name}: the VJP returned {len(grads)} gradient(s) for {len(tensors)} input(s)")
            row = []
            for index in wrt:
                grad = grads[index]
                if grad is None:
                    row.append(None)
                elif isinstance(grad, Tensor):
                    row.append(np.asarray(grad.data, dtype=np.float64))
                else:
                    raise TypeError(f"{op.name}: a VJP must return minigrad tensors, got {_type_name(grad)} for "
                                    f"input {index} (compute it with minigrad operations on grad and ctx.parents)")
            rows.append(row)
        result["grads"] = rows
        return result

    def call(self, request: dict) -> dict:
        from minigrad.tensor import Tensor

        function = getattr(self.module, request["function"], None)
        if not callable(function):
            raise LookupError(f"{self.module_name} has no function '{request['function']}': keep its name")
        tensors = set(request.get("tensors", []))
        args = [Tensor(a) if i in tensors else a for i, a in enumerate(request.get("args", []))]
        return {"result": _as_result(function(*args, **request.get("kwargs", {})), "the result")}

    def tests(self, request: dict) -> dict:
        from minigrad.coursework.pytest_plugin import run_task_tests

        return {"tests": run_task_tests(request["files"], request["task"], lambda what: self.send({"progress": what}))}


def _where(error: BaseException) -> str:
    """' (file line N)' for the innermost frame of the submission's own code, if any."""
    import traceback

    if isinstance(error, SyntaxError) and error.filename:
        return f" ({os.path.basename(error.filename)}, line {error.lineno})"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(_CODE_DIR)]
    if not frames:
        return ""
    last = frames[-1]
    return f" ({os.path.basename(last.filename)}, line {last.lineno})"


_CODE_DIR = "\0"


def main(argv: list) -> int:
    global _CODE_DIR
    request_fd, reply_fd = int(argv[0]), int(argv[1])
    config = _read_config(request_fd)
    _CODE_DIR = config["code"].rstrip("/") + "/"
    try:
        applied = _setup(config)
    except BaseException as error:  # noqa: BLE001 - reported as the sandbox failing, not the student
        message = f"the sandbox could not be set up: {type(error).__name__}: {error}"
        print(message, file=sys.stderr)
        text = json.dumps({"id": 0, "ok": False, "kind": "SandboxError", "error": message}).encode()
        os.write(reply_fd, b"MGRD" + struct.pack("<I", len(text)) + text)
        return 3
    from minigrad.coursework.protocol import FrameReader

    server = _Server(config["module"], reply_fd)
    hello = server.import_module()
    server.send({"id": 0, "sandbox": applied, **hello})
    reader = FrameReader(request_fd)
    while True:
        try:
            request = reader.read()
        except EOFError:
            return 0
        server.send({"id": request.get("id"), **server.handle(request)})


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: student code may have left threads or atexit hooks that would hang the exit
    os._exit(code)
