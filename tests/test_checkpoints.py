"""Checkpoints as safetensors files: standard files both ways, the older .npz still read,
every kind of bad file one clear error that names the file and the function and leaves the
model bit-identical, and a save that keeps permissions, follows symlinks and cleans up."""
from __future__ import annotations

import errno
import io
import json
import os
import pickle
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.serialization import MAX_HEADER_BYTES, Checkpoint

ROOT = Path(__file__).resolve().parents[1]

WEIGHT = np.arange(6.0).reshape(2, 3) * 0.5
BIAS = np.array([1.0, -2.0])


def _model() -> nn.Linear:
    layer = nn.Linear(3, 2)
    layer.weight.data = np.full((2, 3), 0.25)
    layer.bias.data = np.array([3.0, 4.0])
    return layer


def _state_bytes(module):
    return [(name, array.dtype.str, array.shape, array.tobytes()) for name, array in module.state_dict().items()]


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    mg.save({"weight": WEIGHT, "bias": BIAS}, path)
    return path


# ---------------------------------------------------------------------------------------
# The format
# ---------------------------------------------------------------------------------------
def test_round_trip_keeps_values_dtypes_shapes_and_order(tmp_path):
    state = {
        "weight": WEIGHT, "half": np.array([0.5, -1.5], dtype=np.float16),
        "single": np.array([[1.5]], dtype=np.float32), "steps": np.array(7, dtype=np.int64),
        "mask": np.array([True, False]), "empty": np.zeros((0, 3)),
        "complex": np.array([1 + 2j], dtype=np.complex64), "bytes": np.arange(3, dtype=np.uint8),
        "transposed": WEIGHT.T, "big_endian": np.array([1.0, 2.0], dtype=">f8"),
    }
    mg.save(state, tmp_path / "m.safetensors")
    loaded = mg.load(tmp_path / "m.safetensors")
    assert isinstance(loaded, Checkpoint) and loaded.source == str(tmp_path / "m.safetensors")
    assert list(loaded) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
        assert loaded[key].dtype == value.dtype.newbyteorder("="), key
        assert loaded[key].shape == value.shape and loaded[key].flags.writeable


def test_saved_file_is_standard_safetensors_readable_without_minigrad(good_file):
    from safetensors.numpy import load_file

    data = good_file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    assert set(header) == {"__metadata__", "weight", "bias"}
    assert set(header["__metadata__"]) == {"minigrad.structure", "minigrad.sha256"}
    assert header["weight"]["dtype"] == "F64" and header["weight"]["shape"] == [2, 3]
    plain = load_file(str(good_file))
    np.testing.assert_array_equal(plain["weight"], WEIGHT)
    np.testing.assert_array_equal(plain["bias"], BIAS)


def test_reads_a_safetensors_file_written_by_another_tool(tmp_path):
    from safetensors.numpy import save_file

    save_file({"b": np.ones(2, dtype=np.float32), "a": np.arange(4, dtype=np.int32).reshape(2, 2)},
              str(tmp_path / "other.safetensors"), metadata={"format": "pt"})
    loaded = mg.load(tmp_path / "other.safetensors")
    assert sorted(loaded) == ["a", "b"]
    np.testing.assert_array_equal(loaded["a"], [[0, 1], [2, 3]])
    assert loaded["b"].dtype == np.float32 and loaded["a"].dtype == np.int32


def test_nested_structures_round_trip_with_their_types(tmp_path):
    state = {"state": {0: {"step": 3, "exp_avg": np.ones(2)}}, "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999),
                                                                                 "params": [0], "name": None}]}
    mg.save(state, tmp_path / "opt.safetensors")
    loaded = mg.load(tmp_path / "opt.safetensors")
    assert loaded["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0], "name": None}]
    assert list(loaded["state"]) == [0] and loaded["state"][0]["step"] == 3
    np.testing.assert_array_equal(loaded["state"][0]["exp_avg"], np.ones(2))


def test_model_and_optimizer_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    mg.mse_loss(model(mg.randn(6, 4)), mg.zeros(6, 2)).backward()
    opt.step()
    mg.save(model.state_dict(), tmp_path / "model.safetensors")
    mg.save(opt.state_dict(), tmp_path / "opt.safetensors")
    fresh = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    fresh.load_state_dict(mg.load(tmp_path / "model.safetensors"))
    assert _state_bytes(fresh) == _state_bytes(model)
    fresh_opt = mg.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_opt.load_state_dict(mg.load(tmp_path / "opt.safetensors"))
    assert fresh_opt.param_groups[0]["lr"] == 0.01


def _legacy_npz(path, state):
    """A file in the older format minigrad wrote before safetensors (.npz + JSON structure)."""
    arrays = {f"a{i}": value for i, value in enumerate(state.values())}
    structure = {"dict": [[key, {"array": f"a{i}"}] for i, key in enumerate(state)]}
    meta = json.dumps({"format": "minigrad-npz-1", "structure": structure}).encode()
    with open(path, "wb") as handle:        # a handle: np.savez would append .npz to a name
        np.savez(handle, __minigrad_structure__=np.frombuffer(meta, dtype=np.uint8), **arrays)


def test_older_npz_checkpoints_stay_readable_and_convert(tmp_path):
    _legacy_npz(tmp_path / "old.npz", {"weight": WEIGHT, "bias": BIAS})
    old = mg.load(tmp_path / "old.npz")
    assert list(old) == ["weight", "bias"] and old.source == str(tmp_path / "old.npz")
    model = _model()
    model.load_state_dict(old)
    np.testing.assert_array_equal(model.weight.data, WEIGHT)
    mg.save(old, tmp_path / "new.safetensors")          # the documented conversion
    np.testing.assert_array_equal(mg.load(tmp_path / "new.safetensors")["weight"], WEIGHT)


def test_bf16_file_is_refused_with_how_to_convert(tmp_path):
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(_safetensors({"weight": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4))
    with pytest.raises(ValueError, match=r"has dtype BF16, which NumPy cannot hold; convert it in PyTorch"):
        mg.load(path)


# ---------------------------------------------------------------------------------------
# The bad-checkpoint catalogue
# ---------------------------------------------------------------------------------------
F64_WEIGHT = {"dtype": "F64", "shape": [2, 3], "data_offsets": [0, 48]}
F64_BIAS = {"dtype": "F64", "shape": [2], "data_offsets": [48, 64]}
GOOD_DATA = WEIGHT.tobytes() + BIAS.tobytes()


def _safetensors(header, data, length=None, raw_header=None) -> bytes:
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _write(content):
    def make(path, good):
        path.write_bytes(content(good) if callable(content) else content)
    return make


def _header(**entries):
    return _write(_safetensors(entries, GOOD_DATA))


def _pickled_object_npz(path, good):
    class Payload:
        def __reduce__(self):
            return (Path.write_text, (path.parent / "ran.txt", "executed"))

    meta = json.dumps({"format": "minigrad-npz-1", "structure": {"dict": [["weight", {"array": "a0"}]]}}).encode()
    with open(path, "wb") as handle:
        np.savez(handle, a0=np.array([Payload()], dtype=object),
                 __minigrad_structure__=np.frombuffer(meta, dtype=np.uint8))


def _npz_claiming_a_trillion_floats(path, good):
    _legacy_npz(path, {"weight": np.zeros(2)})
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    # A .npy member whose header claims 10**12 float64 values over the 16 bytes of two.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    members["a0.npy"] = header.getvalue() + np.zeros(2).tobytes()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npz_bomb(path, good):
    meta = json.dumps({"format": "minigrad-npz-1", "structure": {"dict": [["weight", {"array": "a0"}]]}}).encode()
    with open(path, "wb") as handle:
        np.savez_compressed(handle, a0=np.zeros(4_000_000), __minigrad_structure__=np.frombuffer(meta, dtype=np.uint8))


def _npz_flipped_bytes(path, good):
    _legacy_npz(path, {"weight": WEIGHT, "bias": BIAS})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a0.npy")
    start = info.header_offset + 30 + len(info.filename) + 100    # inside the array's bytes
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _torch_save_like(path, good):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": [1.0]}))
        archive.writestr("archive/version", "3\n")


def _plain_npz(path, good):
    with open(path, "wb") as handle:
        np.savez(handle, weight=WEIGHT, bias=BIAS)


def _directory(path, good):
    path.mkdir()


def _fifo(path, good):
    os.mkfifo(path)


def _symlink_to_directory(path, good):
    (path.parent / "a_directory").mkdir()
    path.symlink_to(path.parent / "a_directory")


def _symlink_loop(path, good):
    path.symlink_to(path)


def _symlink_to_device(path, good):
    path.symlink_to("/dev/null")


def _state_file(state):
    def make(path, good):
        mg.save(state, path)
    return make


def _structure(structure_json):
    def make(path, good):
        metadata = {"minigrad.structure": structure_json}
        path.write_bytes(_safetensors({"__metadata__": metadata, "weight": F64_WEIGHT, "bias": F64_BIAS}, GOOD_DATA))
    return make


def _deep_json(path, good):
    path.write_bytes(_safetensors(None, b"", raw_header=b"[" * 100_000 + b"]" * 100_000))


def _npz_structure(structure):
    def make(path, good):
        meta = json.dumps({"format": "minigrad-npz-1", "structure": structure}).encode()
        with open(path, "wb") as handle:
            np.savez(handle, a0=WEIGHT, __minigrad_structure__=np.frombuffer(meta, dtype=np.uint8))
    return make


LOAD, LOAD_STATE_DICT = "load: ", "load_state_dict changed nothing"

# (name, make(path, good_bytes), error type, message fragment, function, load kwargs)
CATALOGUE = [
    ("empty file", _write(b""), ValueError, "it is empty (0 bytes)", LOAD, {}),
    ("shorter than the length field", _write(b"\x05\x00\x00"), ValueError,
     "it is 3 bytes, shorter than the 8-byte header length", LOAD, {}),
    ("truncated in the header", _write(lambda good: good[: len(good) // 2]), ValueError,
     "follow the length field; the file is truncated", LOAD, {}),
    ("truncated in the data", _write(lambda good: good[:-8]), ValueError,
     "beyond the 56 bytes of data (truncated file?)", LOAD, {}),
    ("oversized header", _write(_safetensors(None, b"{}", length=2**40)), ValueError,
     f"its header claims {2**40} bytes, more than safetensors' limit of {MAX_HEADER_BYTES}", LOAD, {}),
    ("header length beyond the file", _write(_safetensors(None, b"", raw_header=b"{}" + b" " * 48, length=500)),
     ValueError, "its header claims 500 bytes but only 50 follow the length field", LOAD, {}),
    ("header length zero", _write(_safetensors(None, b"", raw_header=b"")), ValueError,
     "its header is 0 bytes, too short for a JSON object", LOAD, {}),
    ("header not JSON", _write(_safetensors(None, GOOD_DATA, raw_header=b"{not json}")), ValueError,
     "its header is not valid JSON", LOAD, {}),
    ("header not UTF-8", _write(_safetensors(None, b"", raw_header=b'{"\xff\xfe": 1}')), ValueError,
     "its header is not UTF-8 text", LOAD, {}),
    ("header a JSON list", _write(_safetensors([1, 2], b"")), ValueError,
     "its header is a JSON list, not an object of tensors", LOAD, {}),
    ("header nested 100000 deep", _deep_json, ValueError, "its header nests too deeply", LOAD, {}),
    ("tensor named twice", _write(_safetensors(None, GOOD_DATA, raw_header=(
        b'{"weight": ' + json.dumps(F64_WEIGHT).encode() + b', "weight": ' + json.dumps(F64_BIAS).encode() + b"}"))),
     ValueError, "the header names 'weight' twice", LOAD, {}),
    ("unknown dtype", _header(weight={**F64_WEIGHT, "dtype": "F128"}, bias=F64_BIAS), ValueError,
     "tensor 'weight' has unknown dtype 'F128'", LOAD, {}),
    ("bf16 dtype", _header(weight={**F64_WEIGHT, "dtype": "BF16"}, bias=F64_BIAS), ValueError,
     "tensor 'weight' has dtype BF16, which NumPy cannot hold", LOAD, {}),
    ("negative shape", _header(weight={**F64_WEIGHT, "shape": [-2, 3]}, bias=F64_BIAS), ValueError,
     "tensor 'weight' has shape [-2, 3]; a shape is a list of non-negative ints", LOAD, {}),
    ("float shape", _header(weight={**F64_WEIGHT, "shape": [2.0, 3.0]}, bias=F64_BIAS), ValueError,
     "tensor 'weight' has shape [2.0, 3.0]", LOAD, {}),
    ("shape disagrees with its bytes", _header(weight={**F64_WEIGHT, "shape": [2, 4]}, bias=F64_BIAS), ValueError,
     "tensor 'weight' of dtype F64 and shape (2, 4) needs 64 bytes, but its data_offsets [0, 48] hold 48", LOAD, {}),
    ("dtype disagrees with its bytes", _header(weight={**F64_WEIGHT, "dtype": "F32"}, bias=F64_BIAS), ValueError,
     "tensor 'weight' of dtype F32 and shape (2, 3) needs 24 bytes", LOAD, {}),
    ("flipped bytes in the data", _write(lambda good: good[:-12] + bytes(b ^ 0xFF for b in good[-12:-8]) + good[-8:]),
     ValueError, "its tensor data does not match the SHA-256 that minigrad.save stored with it", LOAD, {}),
    ("offsets overlapping",
     _write(_safetensors({"weight": F64_WEIGHT, "bias": {**F64_BIAS, "data_offsets": [40, 56]}}, GOOD_DATA[:56])),
     ValueError,
     "tensors 'weight' and 'bias' overlap (bytes 40..48 are claimed by both)", LOAD, {}),
    ("offsets leaving a gap",
     _write(_safetensors({"weight": F64_WEIGHT, "bias": {**F64_BIAS, "data_offsets": [56, 72]}},
                         GOOD_DATA + b"\0" * 8)),
     ValueError,
     "bytes 48..56 of the data belong to no tensor (before 'bias')", LOAD, {}),
    ("bytes after the last tensor",
     _write(_safetensors({"weight": F64_WEIGHT, "bias": F64_BIAS}, GOOD_DATA + b"x" * 8)), ValueError,
     "8 byte(s) after the last tensor belong to no tensor", LOAD, {}),
    ("offsets out of range", _header(weight=F64_WEIGHT, bias={**F64_BIAS, "data_offsets": [48, 6400]}), ValueError,
     "tensor 'bias' has data_offsets [48, 6400] beyond the 64 bytes of data", LOAD, {}),
    ("offsets reversed", _header(weight={**F64_WEIGHT, "data_offsets": [48, 0]}, bias=F64_BIAS), ValueError,
     "tensor 'weight' has data_offsets [48, 0]; they must be [begin, end] with 0 <= begin <= end", LOAD, {}),
    ("entry without data_offsets", _header(weight={"dtype": "F64", "shape": [2, 3]}, bias=F64_BIAS), ValueError,
     "tensor 'weight' must have exactly dtype, shape and data_offsets, got ['dtype', 'shape']", LOAD, {}),
    ("metadata not strings", _header(__metadata__={"n": 1}, weight=F64_WEIGHT, bias=F64_BIAS), ValueError,
     "its __metadata__ must map strings to strings", LOAD, {}),
    ("structure metadata not JSON", _structure("{oops"), ValueError,
     "its minigrad.structure metadata is not valid JSON", LOAD, {}),
    ("structure names a missing array", _structure(json.dumps({"format": "minigrad-safetensors-1", "structure": {
        "dict": [["weight", {"array": "weight"}], ["bias", {"array": "nosuch"}]]}})), ValueError,
     "the structure names array 'nosuch' (for <root>.bias), which the file does not hold", LOAD, {}),
    ("structure leaves an array out", _structure(json.dumps({"format": "minigrad-safetensors-1", "structure": {
        "dict": [["weight", {"array": "weight"}]]}})), ValueError,
     "it holds array(s) ['bias'] that its structure does not place", LOAD, {}),
    ("structure of an unknown kind", _structure(json.dumps({"format": "minigrad-safetensors-1", "structure": {
        "set": []}})), ValueError, "unknown structure kind 'set' at <root>", LOAD, {}),
    ("pickle file", _write(pickle.dumps({"weight": WEIGHT})), ValueError,
     "it starts like a pickle; pickle files are never loaded", LOAD, {}),
    ("npz with a pickled object array", _pickled_object_npz, ValueError,
     "it contains an object (pickled) array; refusing to load it", LOAD, {}),
    ("npz not written by minigrad", _plain_npz, ValueError,
     "it has no minigrad structure entry; it was not written by minigrad.save", LOAD, {}),
    ("npz claiming 10**12 floats", _npz_claiming_a_trillion_floats, ValueError,
     "member 'a0.npy' claims shape (1000000000000,) of float64 (8000000000000 bytes) but holds 16 bytes", LOAD, {}),
    ("npz zip bomb", _npz_bomb, ValueError, "its archive unpacks to 32000", LOAD, {"max_bytes": 1_000_000}),
    ("npz with flipped bytes", _npz_flipped_bytes, ValueError, "member 'a0.npy' is corrupted or truncated", LOAD, {}),
    ("npz structure malformed", _npz_structure({"dict": "weight"}), ValueError,
     "malformed dict entry at <root>", LOAD, {}),
    ("torch.save pickle archive", _torch_save_like, ValueError,
     "it is a PyTorch torch.save checkpoint (a zipped pickle)", LOAD, {}),
    ("random bytes", _write(np.random.default_rng(0).bytes(500)), ValueError, "is not a minigrad checkpoint", LOAD, {}),
    ("file over max_bytes", _write(lambda good: good), ValueError,
     "more than max_bytes=100; if you trust the file", LOAD, {"max_bytes": 100}),
    ("directory", _directory, IsADirectoryError, "is a directory, not a checkpoint file", LOAD, {}),
    ("FIFO", _fifo, ValueError, "is a FIFO (named pipe), not a regular file", LOAD, {}),
    ("symlink to a directory", _symlink_to_directory, IsADirectoryError, "is a directory, not a checkpoint file",
     LOAD, {}),
    ("symlink loop", _symlink_loop, OSError, "Too many levels of symbolic links", LOAD, {}),
    ("symlink to a device", _symlink_to_device, ValueError, "is a character device, not a regular file", LOAD, {}),
    ("missing key", _state_file({"weight": WEIGHT}), RuntimeError,
     'Missing key(s) in state_dict: "bias"', LOAD_STATE_DICT, {}),
    ("extra key", _state_file({"weight": WEIGHT, "bias": BIAS, "scale": np.ones(1)}), RuntimeError,
     'Unexpected key(s) in state_dict: "scale"', LOAD_STATE_DICT, {}),
    ("shape mismatch", _state_file({"weight": WEIGHT.T, "bias": BIAS}), RuntimeError,
     "size mismatch for weight: copying a param with shape (3, 2) from checkpoint, the shape in current model "
     "is (2, 3).", LOAD_STATE_DICT, {}),
    ("complex into float", _state_file({"weight": WEIGHT.astype(np.complex64), "bias": BIAS}), RuntimeError,
     "dtype mismatch for weight: got complex64, expected float64 (a complex array would lose its imaginary part",
     LOAD_STATE_DICT, {}),
    ("bool into float", _state_file({"weight": WEIGHT, "bias": np.array([True, False])}), RuntimeError,
     "dtype mismatch for bias: got bool, expected float64 (a bool array is a mask, not numbers",
     LOAD_STATE_DICT, {}),
    ("good weight, bad bias", _state_file({"weight": WEIGHT * 9, "bias": np.array([1 + 1j, 2], dtype=np.complex64)}),
     RuntimeError, "dtype mismatch for bias: got complex64", LOAD_STATE_DICT, {}),
]


def test_catalogue_has_at_least_thirty_distinct_files():
    assert len(CATALOGUE) >= 30 and len({entry[0] for entry in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("name, make, error_type, fragment, function, kwargs", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_checkpoint_is_one_clear_error_and_leaves_the_model_bit_identical(
        tmp_path, good_file, name, make, error_type, fragment, function, kwargs):
    path = tmp_path / "ckpt.safetensors"
    make(path, good_file.read_bytes())
    model = _model()
    before = _state_bytes(model)
    with pytest.raises(error_type) as caught:
        model.load_state_dict(mg.load(path, **kwargs))
    message = str(caught.value)
    assert fragment in message
    assert str(path) in message, "the error names the file"
    assert function in message, "the error names the function"
    if function == LOAD:
        assert message.startswith(LOAD) or f"] {LOAD}" in message
    assert _state_bytes(model) == before
    assert not (tmp_path / "ran.txt").exists(), "nothing was unpickled"


def test_missing_file_is_file_not_found_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^\[Errno 2\] load: no such file: '.*nope.safetensors'$"):
        mg.load(tmp_path / "nope.safetensors")


def test_a_partly_valid_state_dict_changes_no_tensor():
    model = _model()
    before = _state_bytes(model)
    with pytest.raises(RuntimeError, match="load_state_dict changed nothing: the state_dict does not fit this model"):
        model.load_state_dict({"weight": WEIGHT, "bias": np.array([1e300, 1.0]).astype(np.complex128)})
    assert _state_bytes(model) == before


def test_load_state_dict_converts_what_is_safe():
    model = _model()
    model.load_state_dict({"weight": WEIGHT.astype(np.float32), "bias": np.array([1, 2], dtype=np.int64)})
    assert model.weight.dtype == np.float64 and model.bias.data.tolist() == [1.0, 2.0]
    counter = nn.Module()
    counter.register_buffer("steps", mg.tensor(np.array(3, dtype=np.int64)))
    with pytest.raises(RuntimeError, match=r"dtype mismatch for steps: got float64, expected int64 \(floats would be "
                                           r"truncated to integers\)"):
        counter.load_state_dict({"steps": np.array(2.5)})
    small = nn.Linear(1, 1, bias=False)
    small.weight.data = np.zeros((1, 1), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"its float64 values overflow float32 \(largest \|value\| 1e\+300\)"):
        small.load_state_dict({"weight": np.array([[1e300]])})
    assert small.weight.data.tolist() == [[0.0]]


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------
def test_saving_symbolic_data_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(TypeError, match="save: entry w is an object array"):
        mg.save({"w": mg.symbols("w", (2,)).data}, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_saving_an_unsupported_dtype_names_the_entry_and_file(tmp_path):
    with pytest.raises(TypeError, match=r"save: entry w has dtype complex128, which safetensors cannot store .* "
                                        r"before saving to '.*x.safetensors'"):
        mg.save({"w": np.ones(2, dtype=np.complex128)}, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path, good_file):
    os.chmod(good_file, 0o640)
    mg.save({"weight": WEIGHT * 2}, good_file)
    assert stat.S_IMODE(os.stat(good_file).st_mode) == 0o640
    np.testing.assert_array_equal(mg.load(good_file)["weight"], WEIGHT * 2)


def test_a_new_file_gets_the_umask_default(tmp_path):
    old = os.umask(0o027)
    try:
        mg.save({"weight": WEIGHT}, tmp_path / "new.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.safetensors").st_mode) == 0o640


def test_save_writes_through_a_symlink_to_its_target(tmp_path, good_file):
    link = tmp_path / "latest.safetensors"
    link.symlink_to(good_file.name)
    mg.save({"weight": WEIGHT * 3}, link)
    assert link.is_symlink() and os.readlink(link) == good_file.name
    np.testing.assert_array_equal(mg.load(good_file)["weight"], WEIGHT * 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.safetensors", "latest.safetensors"]


@pytest.mark.parametrize("make, error_type, message", [
    (lambda tmp: tmp / "folder", IsADirectoryError, "is a directory; pass a file path such as"),
    (lambda tmp: tmp / "pipe", ValueError, "exists and is not a regular file (a FIFO (named pipe))"),
    (lambda tmp: tmp / "nosuchdir" / "m.safetensors", FileNotFoundError, "does not exist; create it first"),
])
def test_save_refuses_a_directory_a_fifo_and_a_missing_directory(tmp_path, make, error_type, message):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    target = make(tmp_path)
    with pytest.raises(error_type) as caught:
        mg.save({"weight": WEIGHT}, target)
    assert message in str(caught.value) and str(target) in str(caught.value) and "save: " in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "pipe"]


def test_full_disk_names_save_removes_the_temporary_file_and_keeps_the_old_checkpoint(tmp_path, good_file, monkeypatch):
    before = good_file.read_bytes()
    real_write = os.write

    def write_until_full(fd, data):
        if fd > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
            real_write(fd, bytes(data[:10]))               # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", write_until_full)
        with pytest.raises(OSError) as caught:
            mg.save({"weight": np.ones((50, 50))}, good_file)
    assert caught.value.errno == errno.ENOSPC
    assert good_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["good.safetensors"]
    mg.save({"weight": np.ones((50, 50))}, tmp_path / "reference.safetensors")   # the size it tried to write
    size = os.path.getsize(tmp_path / "reference.safetensors")
    assert str(caught.value) == (
        f"[Errno {errno.ENOSPC}] save: no space left on the device while writing {str(good_file)!r} ({size} "
        f"bytes); free some space or save elsewhere. The previous file, if any, is unchanged."
    )


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
    np.testing.assert_array_equal(mg.load(good_file)["weight"], WEIGHT)


# ---------------------------------------------------------------------------------------
# To PyTorch and back (oracle)
# ---------------------------------------------------------------------------------------
def _torch_pair():
    torch = pytest.importorskip("torch", reason="PyTorch (the optional oracle) is not installed")
    mg.manual_seed(3)
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    return torch, ours, theirs


def test_minigrad_checkpoint_loads_into_torch_with_the_same_outputs(tmp_path):
    torch, ours, theirs = _torch_pair()
    from safetensors.torch import load_file

    mg.save(ours.state_dict(), tmp_path / "m.safetensors")
    state = load_file(str(tmp_path / "m.safetensors"))
    assert list(state) != [] and set(state) == set(ours.state_dict())
    theirs.load_state_dict(state, strict=True)
    x = np.random.default_rng(0).standard_normal((5, 4))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(mg.tensor(x)).data, expected, rtol=0, atol=1e-12)


def test_torch_checkpoint_loads_into_minigrad_with_the_same_outputs(tmp_path):
    torch, ours, theirs = _torch_pair()
    from safetensors.torch import save_file

    save_file(theirs.state_dict(), str(tmp_path / "t.safetensors"))
    ours.load_state_dict(mg.load(tmp_path / "t.safetensors"))
    x = np.random.default_rng(1).standard_normal((5, 4))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(mg.tensor(x)).data, expected, rtol=0, atol=1e-12)


def test_spectral_norm_checkpoint_moves_to_torch_with_the_same_keys_and_outputs(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch (the optional oracle) is not installed")
    from safetensors.torch import load_file

    import norms

    mg.manual_seed(4)
    ours = norms.spectral_norm(nn.Linear(4, 3))
    ours(mg.ones(4))                         # one training forward moves u and v
    ours.eval()
    mg.save(ours.state_dict(), tmp_path / "sn.safetensors")
    theirs = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3).double())
    state = load_file(str(tmp_path / "sn.safetensors"))
    assert set(state) == set(theirs.state_dict()) == {"weight_orig", "weight_u", "weight_v", "bias"}
    theirs.load_state_dict(state)
    theirs.eval()
    x = np.random.default_rng(2).standard_normal((2, 4))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(mg.tensor(x)).data, expected, rtol=0, atol=1e-12)
