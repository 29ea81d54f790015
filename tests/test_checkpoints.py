"""Checkpoints: every kind of bad file is a clear error, nothing is unpickled, and an
interrupted save never replaces a good file with a half-written one (issue 9)."""
import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.npz"
    mg.save({"weight": np.arange(6.0).reshape(2, 3), "bias": np.ones(2)}, path)
    return path


def test_round_trip_keeps_values_dtypes_and_order(good_file):
    loaded = mg.load(good_file)
    assert list(loaded) == ["weight", "bias"]
    np.testing.assert_array_equal(loaded["weight"], np.arange(6.0).reshape(2, 3))
    assert loaded["weight"].dtype == np.float64


def _truncated(path, good):
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random_bytes(path, good):
    path.write_bytes(np.random.default_rng(0).bytes(500))


def _pickle_renamed(path, good):
    path.write_bytes(pickle.dumps({"weight": np.zeros(2)}))


def _object_array(path, good):
    np.savez(path, weight=np.array([{"payload": 1}], dtype=object))


def _plain_npz(path, good):
    np.savez(path, weight=np.zeros(2))


def _broken_structure(path, good):
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.zeros(2), __minigrad_structure__=np.frombuffer(b"{not json", dtype=np.uint8))
    path.write_bytes(buffer.getvalue())


def _missing_array(path, good):
    meta = json.dumps({"format": "minigrad-npz-1", "structure": {"dict": [["weight", {"array": "a7"}]]}})
    np.savez(path, __minigrad_structure__=np.frombuffer(meta.encode(), dtype=np.uint8))


def _flipped_bytes(path, good):
    data = bytearray(good.read_bytes())
    # Corrupt the compressed member's bytes but keep the zip directory intact.
    with zipfile.ZipFile(good) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + 10
    for i in range(start, start + 40):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _empty(path, good):
    path.write_bytes(b"")


BAD_FILES = {
    "truncated": (_truncated, "corrupted|truncated|not a minigrad checkpoint"),
    "random bytes": (_random_bytes, "not a minigrad checkpoint"),
    "pickle renamed to .npz": (_pickle_renamed, "not a minigrad checkpoint .*pickle files are never loaded"),
    "npz with an object array": (_object_array, "no minigrad structure entry|refusing to load"),
    "npz not written by minigrad": (_plain_npz, "no minigrad structure entry"),
    "structure entry is not JSON": (_broken_structure, "is corrupted"),
    "structure names a missing array": (_missing_array, "missing array 'a7'"),
    "flipped bytes inside": (_flipped_bytes, "corrupted|truncated|not a minigrad checkpoint"),
    "empty file": (_empty, "not a minigrad checkpoint"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_checkpoint_is_a_clear_error(kind, tmp_path, good_file):
    make, message = BAD_FILES[kind]
    path = tmp_path / "bad.npz"
    make(path, good_file)
    with pytest.raises(ValueError, match=message):
        mg.load(path)


def test_object_array_is_never_unpickled(tmp_path):
    # A pickled object whose unpickling would leave a marker file: loading must not run it.
    marker = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "executed"))

    np.savez(tmp_path / "hostile.npz", weight=np.array([Payload()], dtype=object))
    with pytest.raises(ValueError):
        mg.load(tmp_path / "hostile.npz")
    assert not marker.exists()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="load: no such file"):
        mg.load(tmp_path / "nope.npz")


def test_saving_symbolic_data_is_refused(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        mg.save({"w": mg.symbols("w", (2,)).data}, tmp_path / "x.npz")


def test_interrupted_save_leaves_previous_checkpoint_intact(tmp_path, good_file):
    before = good_file.read_bytes()
    # A writer that dies (os._exit, no clean-up) after writing the temporary file and
    # before the rename: the kill between write and rename.
    script = textwrap.dedent(
        f"""
        import os, numpy as np, minigrad as mg
        os.replace = lambda src, dst: os._exit(9)
        mg.save({{"weight": np.full((2, 3), 7.0), "bias": np.zeros(2)}}, {str(good_file)!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60)
    assert done.returncode == 9
    assert good_file.read_bytes() == before
    np.testing.assert_array_equal(mg.load(good_file)["weight"], np.arange(6.0).reshape(2, 3))
