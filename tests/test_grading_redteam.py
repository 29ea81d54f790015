"""The red team: submissions that try to get marks without solving the work, and none does.

Each file in tests/redteam/attacks/ is code a student adds to the untouched handout of
hw1 (before it, and after a "# --- epilogue ---" line, after it); a few attacks are extra
files beside the module (a conftest.py, a pytest.py, a stale .pyc, a symlink, a manifest
with a 1000-point task). The instructor's copy is hw1 with task 1.1 and its hidden check.
All of them, the untouched handout and the instructor's solution (the control) are graded
in one run of tests/redteam/driver.py, in a process of its own, and the test asserts:
  - the control scores full marks, the handout 0, and no attack more than the handout;
  - each attack failed the way it should (a named reason, a limit that held);
  - nothing was left behind: no process, no file written outside the sandbox, the
    installed package and the instructor's copy unchanged, no network connection made;
  - the grader's own peak memory stayed under 200 MiB while one submission printed 1 GB.
"""
from __future__ import annotations

import json
import os
import py_compile
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from string import Template

import pytest

import minigrad
from minigrad.coursework.assignment import release
from minigrad.coursework.sandbox import UID_BASE

ASSIGNMENTS = Path(__file__).resolve().parent.parent / "tutorials" / "assignments"
REDTEAM = Path(__file__).resolve().parent / "redteam"
ATTACKS = sorted(p.stem for p in (REDTEAM / "attacks").glob("*.py"))
PACKAGE = Path(minigrad.__file__).resolve().parent
TIMEOUT = 5.0

CONFTEST = '''import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome, report.longrepr = "passed", None
'''
FAKE_PYTEST = '''def main(*args, **kwargs):
    return 0

class _Mark:
    def __getattr__(self, name):
        return lambda *args, **kwargs: (lambda f: f)

mark = _Mark()
'''


def _solution_server(solution: str) -> tuple:
    """A TCP server on 127.0.0.1 that hands the solution to whoever connects (an accomplice)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    connections: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, address = server.accept()
            except OSError:
                continue
            connections.append(address)
            with connection:
                connection.sendall(solution.encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, stop, connections


def _submission(root: Path, name: str, handout: str, values: dict) -> Path:
    """The handout with the attack's code before (and its epilogue after) it, plus its extra files."""
    folder = root / name
    folder.mkdir(parents=True)
    text = Template((REDTEAM / "attacks" / f"{name}.py").read_text()).substitute(values)
    prelude, _, epilogue = text.partition("# --- epilogue ---\n")
    head, future, body = handout.partition("from __future__ import annotations\n")
    assert future, "the handout starts with its __future__ import"
    # An attack that obtained the solution sets _STOLEN: the handout's own classes are then skipped.
    guarded = "".join(f"    {line}" if line.strip() else line for line in body.splitlines(keepends=True))
    indented = "".join(f"    {line}\n" for line in epilogue.splitlines())
    module = (f"{head}{future}{prelude}\nif not globals().get('_STOLEN'):\n{guarded}\n"
              f"if not globals().get('_STOLEN'):\n" + indented + "    pass\n")
    (folder / "hw1_elementwise.py").write_text(module)
    return folder


#: attacks run a second time with Landlock and the limits alone (what an unprivileged grader has);
#: not the fork bomb or kill(-1), which as root without a uid of their own would reach the machine
#: if Landlock were missing
LANDLOCK_ONLY = ["read_solution", "read_other_student", "write_package", "network", "steal_from_reference_worker",
                 "outlive", "disk_fill", "setuid_escape", "forge_reply_frames", "patch_checks"]


def _run_driver(options: list, source: Path, order: list) -> dict:
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    done = subprocess.run([sys.executable, str(REDTEAM / "driver.py"), *options, str(source), str(TIMEOUT),
                           *map(str, order)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def redteam(tmp_path_factory):
    work = tmp_path_factory.mktemp("redteam")
    # The instructor's copy: hw1 with task 1.1 and its hidden check (one task keeps the run short).
    source = work / "instructor" / "hw1_elementwise"
    shutil.copytree(ASSIGNMENTS / "hw1_elementwise", source, ignore=shutil.ignore_patterns("__pycache__"))
    spec = json.loads((source / "assignment.json").read_text())
    spec["tasks"] = [t for t in spec["tasks"] if t["id"] == "1.1"]
    (source / "assignment.json").write_text(json.dumps(spec))
    hidden = json.loads((source / "hidden.json").read_text())
    hidden["checks"] = [c for c in hidden["checks"] if c["task"] == "1.1"]
    (source / "hidden.json").write_text(json.dumps(hidden))
    solution_path = source / "hw1_elementwise.py"
    solution = solution_path.read_text()
    release(ASSIGNMENTS / "hw1_elementwise", work / "handout")
    handout = (work / "handout" / "hw1_elementwise.py").read_text()

    submissions = work / "submissions"
    (submissions / "alice").mkdir(parents=True)  # a student who did the work: the control
    (submissions / "alice" / "hw1_elementwise.py").write_text(solution)
    (submissions / "untouched").mkdir()
    (submissions / "untouched" / "hw1_elementwise.py").write_text(handout)
    server, stop, connections = _solution_server(solution)
    values = {"SOLUTION": str(solution_path), "ALICE": str(submissions / "alice" / "hw1_elementwise.py"),
              "SUBMISSIONS": str(submissions), "PORT": str(server.getsockname()[1]), "PACKAGE": str(PACKAGE),
              "SOURCE_DIR": str(source)}
    folders = [_submission(submissions, name, handout, values) for name in ATTACKS]
    # The attacks that are files beside the module rather than code in it.
    (submissions / "conftest_rewrites_reports" / "conftest.py").write_text(CONFTEST)
    (submissions / "fake_pytest" / "pytest.py").write_text(FAKE_PYTEST)
    link = submissions / "symlink_to_solution" / "hw1_elementwise.py"
    link.unlink()
    link.symlink_to(solution_path)
    stale = submissions / "stale_pyc"
    compiled = work / "compiled" / "hw1_elementwise.py"
    compiled.parent.mkdir()
    compiled.write_text(solution)
    tag = sys.implementation.cache_tag
    (stale / "__pycache__").mkdir()
    py_compile.compile(str(compiled), cfile=str(stale / "__pycache__" / f"hw1_elementwise.{tag}.pyc"),
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    os.utime(stale / "hw1_elementwise.py", (0, 0))
    extra = submissions / "extra_assignment_folder"
    (extra / "assignment.json").write_text(json.dumps({
        "number": 1, "title": "mine", "module": "hw1_elementwise",
        "tasks": [{"id": "1.9", "title": "free points", "points": 1000, "checks": []}]}))
    (extra / "bonus").mkdir()
    (extra / "bonus" / "assignment.json").write_text(json.dumps({
        "number": 9, "title": "bonus", "module": "bonus", "tasks": [{"id": "9.1", "title": "free", "points": 1000}]}))
    (extra / "bonus" / "bonus.py").write_text("")
    (extra / "bonus" / "test_bonus.py").write_text(
        "import pytest\n\n@pytest.mark.task(9, 1)\ndef test_free():\n    pass\n")

    source_before = sorted(p.name for p in source.iterdir())
    order = [submissions / "alice", submissions / "untouched", *folders]
    try:
        report = _run_driver([], source, order)
        landlock_only = _run_driver(["--landlock-only"], source, [submissions / "alice"] + [
            submissions / name for name in LANDLOCK_ONLY])
    finally:
        stop.set()
        server.close()
    # (other files of the package may change meanwhile: people work on it; the attack leaves a mark)
    marked = [p.name for p in PACKAGE.rglob("*.py") if "# redteam was here" in p.read_text(errors="replace")]
    return {"report": report, "landlock_only": landlock_only, "connections": connections, "marked": marked,
            "source": (source_before, sorted(p.name for p in source.iterdir())), "work": work}


def _task(redteam, name: str) -> dict:
    (task,) = redteam["report"]["results"][name]
    return task


def test_there_are_at_least_twenty_attacks():
    assert len(ATTACKS) >= 20


def test_the_control_scores_full_marks_and_the_handout_zero(redteam):
    alice = _task(redteam, "alice")
    assert (alice["score"], alice["status"]) == (3, "passed"), alice
    untouched = _task(redteam, "untouched")
    assert (untouched["score"], untouched["status"]) == (0, "not implemented")


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_attack_scores_more_than_the_handout(redteam, attack):
    task = _task(redteam, attack)
    assert task["score"] <= _task(redteam, "untouched")["score"] == 0, task


# What each attack's grade says happened (status, and words of its summary or output).
EXPECTED = {
    "forge_reply_frames": ("error", "broke the grading protocol"),
    "wrap_server": ("error", "broke the grading protocol (the output is a float, not an array)"),
    "conftest_rewrites_reports": ("not implemented", "Task 1.1"),
    "fake_pytest": ("not implemented", "Task 1.1"),
    "patch_checks": ("failed", "differs from the instructor's solution"),
    "read_solution": ("not implemented", "read_solution:"),
    "symlink_to_solution": ("error", "not submitted: no hw1_elementwise.py"),
    "stale_pyc": ("not implemented", "Task 1.1"),
    "extra_assignment_folder": ("not implemented", "Task 1.1"),
    "write_package": ("not implemented", "write_package:"),
    "outlive": ("not implemented", "Task 1.1"),
    "memory_hog": ("error", "raised MemoryError while importing"),
    "cpu_spin": ("timeout", "stopped after the time limit of 5 s while importing the submission"),
    "disk_fill": ("not implemented", "disk_fill: fill.bin stopped after 8 MiB"),
    "fork_bomb": ("not implemented", "children before fork failed"),
    "kill_parent": ("not implemented", "kill_parent: PermissionError"),
    "network": ("not implemented", "network:"),
    "read_other_student": ("not implemented", "read_other_student:"),
    "alter_inputs_in_place": ("failed", "differs from the instructor's solution"),
    "monkeypatch_numpy": ("error", "broke the grading protocol"),
    "protocol_garbage": ("error", "a header of 2147483648 bytes"),
    "protocol_huge_array": ("error", "exceed"),
    "protocol_deep_nesting": ("error", "the header nests too deeply"),
    "leak_hidden_inputs": ("failed",
                           "hidden check 'four-axis broadcast' fails (raised an error; its inputs are not shown)"),
    "steal_from_reference_worker": ("not implemented", "Task 1.1"),
    "exit_at_import": ("error", "your module hw1_elementwise raised SystemExit while importing"),
    "keyboard_interrupt": ("error", "your module hw1_elementwise raised KeyboardInterrupt while importing"),
    "segfault": ("crashed", "SIGSEGV: a segmentation fault"),
    "setuid_escape": ("not implemented", "setuid_escape: read"),
    "terminal_escapes": ("error", "raised RuntimeError while importing"),
    "stdout_into_reply_pipe": ("error", "broke the grading protocol"),
    "output_flood": ("not implemented", "bytes printed in all"),
}


#: attacks whose outcome is a race the grader may see either way round: the forged frames
#: are read (a protocol error) or the worker's exit is seen first (a crash); 0 points both ways
RACES = {"forge_reply_frames": "crashed"}


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_attack_fails_for_its_reason(redteam, attack):
    task = _task(redteam, attack)
    status, words = EXPECTED[attack]
    if attack in RACES and task["status"] == RACES[attack]:
        assert task["score"] == 0, task
        return
    assert task["status"] == status, task
    assert words in task["summary"] + task["output"] + " ".join(task["checks"]), task


def test_limits_held_and_no_file_was_written_outside_the_sandbox(redteam):
    assert "memory-limit-hit" in _task(redteam, "memory_hog")["output"]
    fill = _task(redteam, "disk_fill")["output"]
    assert "/tmp/redteam-fill.bin stopped after 0 MiB: PermissionError" in fill
    assert not Path("/tmp/redteam-fill.bin").exists() and not Path("/dev/shm/redteam-fill.bin").exists()
    writes = _task(redteam, "write_package")["output"]
    assert "wrote" not in writes and writes.count("PermissionError") + writes.count("FileNotFoundError") == 4
    assert redteam["marked"] == [] and not (PACKAGE / "_pwned_redteam.py").exists()
    assert redteam["source"][0] == redteam["source"][1]
    assert redteam["connections"] == []
    bombs = _task(redteam, "fork_bomb")["output"]
    assert int(bombs.split("fork_bomb: ")[1].split()[0]) < 12


def test_the_solution_and_other_students_were_not_readable(redteam):
    for attack in ("read_solution", "read_other_student", "setuid_escape"):
        output = _task(redteam, attack)["output"]
        assert "Error" in output and "_STOLEN" not in output, (attack, output)
    assert "read_solution: $SOLUTION".replace("$SOLUTION", "") in _task(redteam, "read_solution")["output"]


def test_terminal_escapes_do_not_reach_the_report(redteam):
    task = _task(redteam, "terminal_escapes")
    text = task["summary"] + task["output"] + " ".join(task["checks"])
    assert "\x1b" not in text and "\x07" not in text
    assert "Total: 3/3 points (1 of 1 tasks passed)" in task["summary"]  # the words stay, harmless as text


def test_no_process_is_left_behind(redteam):
    """No process of the driver's workers remains: by command line, by uid, by the marker in the environment."""
    driver = redteam["report"]["pid"]
    # as root every worker had a uid of its own, from this block (see sandbox._free_uid)
    first_uid = UID_BASE + (driver % 50_000) * 1000
    marker = f"minigrad-sandbox-{driver}-".encode()
    leftovers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("Uid:")).split()[1])
            environment = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, StopIteration):
            continue
        if "redteam-sleeper" in command or first_uid <= uid < first_uid + 1000 or marker in environment:
            leftovers.append((pid, uid, command[:120]))
    assert leftovers == []


def test_the_grader_memory_stays_bounded_while_a_submission_prints_a_gigabyte(redteam):
    flood = _task(redteam, "output_flood")["output"]
    printed = int(flood.rsplit("[... ", 1)[1].split()[0])
    assert 1 << 30 <= printed < (1 << 30) + (64 << 10)  # the gigabyte and pytest's few lines
    assert redteam["report"]["peak_rss_kib"] < 200 * 1024, redteam["report"]["peak_rss_kib"]


@pytest.mark.parametrize("attack", LANDLOCK_ONLY)
def test_landlock_and_the_limits_alone_hold(redteam, attack):
    """Even as root, without namespaces or a uid of its own, a worker gets nothing (the unprivileged setup)."""
    results = redteam["landlock_only"]["results"]
    ((control,),) = [results["alice"]]
    assert control["score"] == 3
    (task,) = results[attack]
    assert task["score"] == 0, task
    if attack in ("read_solution", "read_other_student", "write_package", "disk_fill", "network"):
        assert "PermissionError" in task["output"] and "wrote" not in task["output"], task["output"]
