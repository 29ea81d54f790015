"""The grader's side of a sandboxed worker: start it, talk to it, and leave nothing behind.

``SandboxedWorker`` copies exactly the files it is given (regular files only: never a
symlink, a folder, a ``conftest.py`` or a ``.pyc``) into a fresh folder, starts
``python -I -B -S -u worker.py`` (unbuffered: what it printed before a kill is kept) in a new session
with a minimal environment and two pipes for the protocol, and streams the worker's stdout
and stderr through a reader that keeps the first ``output_limit`` bytes and only counts the
rest (a submission that prints a gigabyte costs the grader a counter). ``close()`` kills the
worker's process group and then every process of its session, of its uid (as root each
worker gets a uid of its own) or carrying its marker in the environment, until none is left,
and removes the folder.
What the worker itself applies (limits, namespaces, Landlock, the uid) is described in
:mod:`minigrad.coursework.worker`.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from minigrad.coursework.protocol import FrameReader, ProtocolError, ReadTimeout, encode

WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
MINIGRAD_DIR = Path(__file__).resolve().parents[1]
_counter = itertools.count()
#: the config the worker's pytest runs with (written by the grader, never taken from a submission)
PYTEST_INI = "[pytest]\nmarkers =\n    task(n, m): a coursework task's test\n"
#: uids handed to sandboxed workers when the grader runs as root: unused by any account
UID_BASE = 2_000_000_000


@dataclass
class Limits:
    """What one worker may use."""

    seconds: float = 60.0  # wall clock for the whole task
    address_space: int = 2 << 30  # bytes of virtual memory (numpy alone maps ~0.5 GiB)
    file_size: int = 16 << 20  # bytes in any one file it writes
    scratch_bytes: int = 32 << 20  # its writable folder's size (as root: a tmpfs)
    processes: int = 16  # processes and threads of its uid (as root; otherwise 4x this above the user's count)
    open_files: int = 128
    output_limit: int = 64 << 10  # bytes of stdout/stderr kept for the report
    max_reply: int = 16 << 20  # bytes of array data in one answer
    #: as root: namespaces and a fresh uid for each worker (False: only what an unprivileged
    #: grader gets, the limits and Landlock; the tests use it to check that layer alone)
    isolate_as_root: bool = True


class WorkerError(RuntimeError):
    """The worker could not answer: it died, timed out or broke the protocol (``reason`` says)."""

    def __init__(self, reason: str, kind: str):
        super().__init__(reason)
        self.kind = kind  # "crashed", "timeout", "protocol", "sandbox"


@dataclass
class WorkerReport:
    """How a worker ended: exit status, the signal that ended it, what it printed."""

    returncode: int | None = None
    output: str = ""
    output_bytes: int = 0
    sandbox: list = field(default_factory=list)


def _site_paths() -> list:
    """The folders the grader's own NumPy, SymPy and pytest come from (not minigrad's parent)."""
    import numpy

    paths = []
    for module in (numpy, *_optional("pytest", "sympy", "mpmath", "_pytest", "pluggy", "iniconfig", "packaging")):
        folder = str(Path(module.__file__).resolve().parent.parent)
        if folder not in paths and folder != str(MINIGRAD_DIR.parent):
            paths.append(folder)
    return paths


def _optional(*names) -> list:
    import importlib

    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            pass
    return found


def _system_paths() -> list:
    """Read-only places the interpreter may load shared libraries from later."""
    paths = [sys.base_prefix, sys.prefix, "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/etc/ld.so.cache",
             "/usr/share/zoneinfo"]
    return [p for p in dict.fromkeys(os.path.realpath(p) for p in paths) if os.path.exists(p)]


class SandboxedWorker:
    """One sandboxed worker process serving one submission (or the instructor's solution)."""

    def __init__(self, files: dict, module: str, limits: Limits, hide: list = (), root: str | None = None,
                 landlock: bool = True):
        self.files = dict(files)  # name in the sandbox -> source path
        self.module = module
        self.limits = limits
        # Beside a source checkout of minigrad lie the coursework solutions: hide them as well.
        shipped = MINIGRAD_DIR.parent / "tutorials"
        self.hide = [str(Path(p).resolve()) for p in hide] + ([str(shipped)] if shipped.is_dir() else [])
        self.landlock = landlock
        self.root_parent = root
        self.process: subprocess.Popen | None = None
        self.report = WorkerReport()
        self.skipped: list = []  # files that were not copied, and why
        self._ids = itertools.count(1)
        self._deadline = 0.0

    # -- start --------------------------------------------------------------------------
    def start(self) -> dict:
        """Copy the files, start the worker, and return its hello (how the import went)."""
        self._deadline = time.monotonic() + self.limits.seconds
        as_root = os.geteuid() == 0 and self.limits.isolate_as_root
        self.uid = _free_uid() if as_root else None
        self.folder = Path(tempfile.mkdtemp(prefix="minigrad-sandbox-", dir=self.root_parent))
        os.chmod(self.folder, 0o711)
        code, scratch, stage, lib = (self.folder / name for name in ("code", "scratch", "stage", "lib"))
        for path in (code, scratch, stage, lib):
            path.mkdir()
        self._copy_files(code)
        self._place(code / "pytest.ini", PYTEST_INI.encode())
        (lib / "minigrad").symlink_to(MINIGRAD_DIR, target_is_directory=True)
        if as_root:
            # Only this worker's uid may read its copy (another worker's student cannot).
            os.chown(code, 0, self.uid)
            os.chmod(code, 0o750)
            os.chown(scratch, self.uid, self.uid)
            os.chmod(scratch, 0o700)
            os.chmod(lib, 0o755)
        self.marker = f"minigrad-sandbox-{os.getpid()}-{next(_counter)}-{time.monotonic_ns()}"
        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        output_read, output_write = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch), "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONHASHSEED": "0", "MINIGRAD_SANDBOX": self.marker}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-S", "-u", str(WORKER_SCRIPT), str(request_read), str(reply_write)],
                cwd=str(scratch), env=env, stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
                pass_fds=(request_read, reply_write), start_new_session=True, close_fds=True,
            )
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        self._output = _OutputDrain(output_read, self.limits.output_limit)
        self._reader = FrameReader(self._reply_read, max_payload=self.limits.max_reply)
        config = {
            "module": self.module, "code": str(code), "scratch": str(scratch), "stage": str(stage),
            "lib": str(lib), "site_paths": _site_paths(), "uid": self.uid, "landlock": self.landlock,
            "read_paths": [str(MINIGRAD_DIR)] + _site_paths() + _system_paths()[:2],
            "system_paths": _system_paths(), "hide": self.hide, "scratch_bytes": self.limits.scratch_bytes,
            "limits": {"address_space": self.limits.address_space, "file_size": self.limits.file_size,
                       "cpu_seconds": max(int(self.limits.seconds) + 1, 2), "open_files": self.limits.open_files,
                       "processes": self.limits.processes if as_root else _user_tasks() + 4 * self.limits.processes},
        }
        self._send(config)
        hello = self._receive(0, "importing the submission")
        self.report.sandbox = list(hello.get("sandbox", [])) if isinstance(hello.get("sandbox"), list) else []
        return hello

    def _copy_files(self, code: Path) -> None:
        for name, source in sorted(self.files.items()):
            source = Path(source)
            if not source.exists() and not source.is_symlink():
                self.skipped.append(f"{name}: not in the submission")
                continue
            if source.is_symlink() or not source.is_file():
                self.skipped.append(f"{name}: not a regular file (a symlink or a folder), not copied")
                continue
            self._place(code / name, source.read_bytes())

    def _place(self, target: Path, data: bytes) -> None:
        target.write_bytes(data)
        if self.uid is not None:  # readable by this worker's uid only
            os.chmod(target, 0o640)
            os.chown(target, 0, self.uid)
        else:
            os.chmod(target, 0o600)

    # -- requests -----------------------------------------------------------------------
    def request(self, message: dict, what: str) -> dict:
        """Send one request and wait (within the task's time) for its answer."""
        number = next(self._ids)
        try:
            self._send({"id": number, **message})
        except (BrokenPipeError, OSError):
            raise self._failure(f"while {what}", "the worker is gone") from None
        return self._receive(number, what)

    def _send(self, message: dict) -> None:
        data = memoryview(encode(message))
        while data:
            data = data[os.write(self._request_write, data):]

    def _receive(self, number: int, what: str) -> dict:
        while True:
            try:
                reply = self._reader.read(self._deadline)
            except ReadTimeout:
                self.kill()
                raise WorkerError(f"stopped after the time limit of {self.limits.seconds:g} s while {what}: "
                                  f"an infinite loop, or far too slow", "timeout") from None
            except EOFError:
                raise self._failure(f"while {what}", "") from None
            except ProtocolError as error:
                self.kill()
                raise WorkerError(f"the worker broke the grading protocol while {what} ({error}); "
                                  f"the task scores 0", "protocol") from None
            if "progress" in reply and "id" not in reply:
                what = str(reply["progress"])[:200]
                continue
            if reply.get("id") != number:
                self.kill()
                raise WorkerError(f"the worker answered request {reply.get('id')!r} when {number} was asked "
                                  f"({what}): it broke the grading protocol; the task scores 0", "protocol")
            if reply.get("kind") == "SandboxError":
                raise WorkerError(str(reply.get("error")), "sandbox")
            return reply

    def _failure(self, when: str, detail: str) -> WorkerError:
        self.kill()
        code = self.process.returncode if self.process else None
        reason = _describe_exit(code, self.limits)
        tail = " | ".join(self._output.text().strip().splitlines()[-3:]) if self._output else ""
        message = f"the worker process ended {when} ({reason})" + (f": {tail}" if tail else "")
        return WorkerError(message, "crashed")

    # -- end ------------------------------------------------------------------------------
    def kill(self) -> None:
        """Kill the worker and every process it started; wait for the worker."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        kill_leftovers(self.process.pid, self.uid, self.marker)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
            pass
        self.report.returncode = self.process.returncode

    def close(self) -> WorkerReport:
        """End the worker (if it still runs), collect its output, remove its folder."""
        if self.process is not None:
            for fd in (self._request_write,):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.kill()
            self._output.join()
            self.report.output = self._output.text()
            self.report.output_bytes = self._output.total
            try:
                os.close(self._reply_read)
            except OSError:
                pass
            self.process = None
        if getattr(self, "uid", None) is not None:
            with _uid_lock:
                _uids_in_use.discard(self.uid)
        if getattr(self, "folder", None) is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        return self.report

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _user_tasks() -> int:
    """Threads of this process's uid now: RLIMIT_NPROC counts them all, not only the worker's."""
    uid, count = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _proc_stat(pid)
        if stat is not None and stat[3] == uid:
            try:
                count += len(os.listdir(f"/proc/{pid}/task"))
            except OSError:
                pass
    return count


def _describe_exit(code, limits: Limits) -> str:
    if code is None:
        return "still running, killed"
    if code >= 0:
        return f"exit code {code}"
    number = -code
    name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
    reasons = {signal.SIGXCPU: f"it used more than its CPU time limit of {int(limits.seconds) + 1} s",
               signal.SIGXFSZ: f"it wrote a file larger than the limit of {limits.file_size >> 20} MiB",
               signal.SIGSEGV: "a segmentation fault", signal.SIGKILL: "killed"}
    return f"{name}: {reasons.get(number, 'ended by a signal')}"


class _OutputDrain(threading.Thread):
    """Reads a worker's stdout/stderr to the end, keeping only the first ``limit`` bytes."""

    def __init__(self, fd: int, limit: int):
        super().__init__(daemon=True)
        self.fd, self.limit = fd, limit
        self.kept = bytearray()
        self.total = 0
        self.start()

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                self.total += len(chunk)
                room = self.limit - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        finally:
            os.close(self.fd)

    def join(self, timeout: float | None = 5.0) -> None:
        super().join(timeout)

    def text(self) -> str:
        text = bytes(self.kept).decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            text += f"\n[... {self.total - len(self.kept)} more bytes of output not kept]"
        return text


# ---------------------------------------------------------------------------------------
# Finding and killing what a worker left behind (no psutil: /proc)
# ---------------------------------------------------------------------------------------
def _proc_stat(pid: str) -> tuple | None:
    """(ppid, pgid, session, real uid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read().decode("ascii", "replace")
        with open(f"/proc/{pid}/status", "rb") as file:
            status = file.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1)
    return int(fields[1]), int(fields[2]), int(fields[3]), uid


def _has_marker(pid: str, marker: str) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return marker.encode() in file.read()
    except OSError:
        return False


def sandbox_processes(leader: int, uid: int | None, marker: str) -> list:
    """Every process that belongs to the worker ``leader``: its session or group, its uid, its marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        stat = _proc_stat(pid)
        if stat is None:
            continue
        _, pgid, session, owner = stat
        if pgid == leader or session == leader or (uid is not None and owner == uid) or _has_marker(pid, marker):
            found.append(int(pid))
    return found


def kill_leftovers(leader: int, uid: int | None, marker: str, seconds: float = 5.0) -> list:
    """SIGKILL the worker's processes until a scan finds none (a fork bomb keeps forking)."""
    killed: set = set()
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        found = [pid for pid in sandbox_processes(leader, uid, marker) if not _is_zombie(pid)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    return sorted(killed)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read().decode("ascii", "replace")
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].split()[0] in ("Z", "X")


_uid_lock = threading.Lock()
_uids_in_use: set = set()


def _free_uid() -> int:
    """A uid no account and no running process has (one per worker, so NPROC and kills are per worker)."""
    with _uid_lock:
        for _ in range(1000):
            uid = UID_BASE + (os.getpid() % 50_000) * 1000 + next(_counter) % 1000
            if uid in _uids_in_use:
                continue
            if not any((_proc_stat(pid) or (0, 0, 0, -1))[3] == uid for pid in os.listdir("/proc") if pid.isdigit()):
                _uids_in_use.add(uid)
                return uid
    raise RuntimeError("sandbox: no free uid for a worker")
