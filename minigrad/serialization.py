"""Checkpoints: ``save`` and ``load`` of state dicts as safetensors files, never pickle.

The file format is safetensors (the ``safetensors`` package, as PyTorch users know it): an
8-byte little-endian header length, a JSON header giving each tensor's dtype, shape and
byte range, then the raw bytes. Nothing in it can run code, and any tool that reads
safetensors reads our checkpoints: ``safetensors.torch.load_file("model.safetensors")``
gives a PyTorch state dict with the same keys, shapes and dtypes.

What minigrad adds
    * A flat state dict (``model.state_dict()``) is stored under its own keys. Nested
      structures (an optimiser's state dict: dicts, lists, tuples, numbers, strings) are
      stored as tensors plus one JSON description in the header's ``__metadata__`` under
      ``minigrad.structure``, which also keeps the keys' order; other tools see the tensors
      and ignore it. A SHA-256 of the tensors (``minigrad.sha256``) lets ``load`` notice
      bytes changed after saving, which safetensors alone cannot.
    * ``load`` reads any safetensors file, with NumPy only (no torch needed), and returns a
      :class:`Checkpoint` (an ordered dict that remembers its file, so that
      ``Module.load_state_dict`` can name the file in its errors). Before any tensor is
      built it checks the whole header: header size (at most 100 MB, safetensors' own
      limit), the file's size (``max_bytes``, 4 GiB by default), dtypes, shapes against
      byte ranges, byte ranges in bounds, neither overlapping nor leaving gaps. It reads
      regular files only: a directory, FIFO or device is refused before a byte is read.
      Every error names ``load`` and the file.
    * ``save`` writes a temporary file beside the target and renames it into place, so a
      crash mid-write leaves the previous checkpoint intact; the new file keeps the old
      one's permissions (a new file gets the umask's default), a symlink is written through
      to its target (the link stays), the temporary file is removed on any failure, and a
      full disk is an ``OSError`` naming ``save`` and the file.

The older format (``.npz`` archives of plain arrays plus a JSON structure entry, written by
minigrad before safetensors) stays readable: ``load`` recognises it by its zip signature
and reads it under the same rules (no pickle, sizes checked before anything is
unpacked). To convert one: ``mg.save(mg.load("old.npz"), "new.safetensors")``.
"""
from __future__ import annotations

import errno
import io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["Checkpoint", "save", "load", "MAX_HEADER_BYTES", "DEFAULT_MAX_BYTES"]

#: safetensors' own limit on the JSON header (the Rust reader refuses larger ones).
MAX_HEADER_BYTES = 100_000_000
#: Largest file ``load`` reads unless told otherwise (``load(path, max_bytes=...)``).
DEFAULT_MAX_BYTES = 4 * 2**30

_STRUCTURE_KEY = "minigrad.structure"
_STRUCTURE_FORMAT = "minigrad-safetensors-1"
_CHECKSUM_KEY = "minigrad.sha256"

# safetensors dtype names <-> NumPy. Safetensors also knows BF16 and the 8- and 4-bit float
# formats, which NumPy cannot hold: those are refused with a message saying how to convert.
_NUMPY_OF = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_, "C64": np.complex64,
}
_NOT_IN_NUMPY = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"}
_SAFETENSORS_OF = {np.dtype(t): name for name, t in _NUMPY_OF.items()}


class Checkpoint(OrderedDict):
    """What ``load`` returns for a dict: an ordered dict that remembers the file it came from.

    ``source`` is the path given to ``load``; ``Module.load_state_dict`` names it in its
    errors. Everything else is an ordinary ``OrderedDict``.
    """

    source: str | None = None


def _quoted(path: str) -> str:
    return repr(str(path))


# ---------------------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------------------
def _flatten(obj, tensors: dict, path: str, where: str):
    """The structure of ``obj`` as JSON-ready nodes; its arrays go into ``tensors`` by name."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        label = path or "<root>"
        if obj.dtype == object:
            raise TypeError(
                f"save: entry {label} is an object array (SymPy data?); only numeric arrays can "
                f"be saved to {where}. Save the float values instead (e.g. from a float model)."
            )
        dtype = obj.dtype.newbyteorder("=") if obj.dtype.byteorder in "<>" else obj.dtype
        if dtype not in _SAFETENSORS_OF:
            raise TypeError(
                f"save: entry {label} has dtype {obj.dtype}, which safetensors cannot store "
                f"(it holds {', '.join(sorted(str(d) for d in _SAFETENSORS_OF))}); convert it, "
                f"e.g. with .astype(np.float64), before saving to {where}."
            )
        name = path if path and path not in tensors and not path.startswith("__") else f"__minigrad_{len(tensors)}"
        # Native byte order and C layout: safetensors stores little-endian C-ordered bytes.
        tensors[name] = obj.astype(dtype, order="C", copy=False)   # (ascontiguousarray makes 0-d 1-d)
        return {"array": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(key).__name__} at "
                    f"{path or '<root>'} (saving {where})"
                )
            items.append([key, _flatten(value, tensors, f"{path}.{key}" if path else str(key), where)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_flatten(v, tensors, f"{path}.{i}" if path else str(i), where) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, np.generic) and obj.dtype != object:
        return {"value": obj.item()}
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {path or '<root>'} (saving {where}); "
        f"store arrays, numbers, strings, lists and dicts (e.g. model.state_dict())"
    )


def _default_mode() -> int:
    """0o666 less the process umask: the mode ``open()`` would give a new file."""
    try:
        # Linux shows the umask here; reading it does not change it (no race with threads).
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere os.umask can only be read by setting it; it is set straight back.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _checksum(tensors) -> str:
    """SHA-256 over the tensors' names and little-endian bytes, in name order.

    safetensors has no checksum of its own, so a flipped bit in the data would load as a
    wrong number; minigrad stores this digest in the metadata and ``load`` compares it.
    """
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(array.astype(array.dtype.newbyteorder("<"), order="C", copy=False).tobytes())
    return digest.hexdigest()


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_atomically(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary file and a rename (see module doc)."""
    # A symlink is written through: its target is replaced and the link itself stays.
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise OSError(error.errno, f"save: cannot write {_quoted(path)}: {error.strerror}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(
            errno.EISDIR,
            f"save: {_quoted(path)} is a directory; pass a file path such as "
            f"{_quoted(os.path.join(path, 'model.safetensors'))}",
        )
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"save: {_quoted(path)} exists and is not a regular file ({_file_kind(info.st_mode)}); "
            f"checkpoints are written to regular files only: choose another path."
        )
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT,
            f"save: the directory of {_quoted(path)} ({_quoted(directory)}) does not exist; create it first",
        )
    mode = stat.S_IMODE(info.st_mode) if info is not None else _default_mode()
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
    except OSError as error:
        raise OSError(
            error.errno, f"save: cannot create a temporary file beside {_quoted(path)}: {error.strerror}"
        ) from None
    try:
        try:
            _write_all(fd, payload)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as error:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(
                error.errno,
                f"save: no space left on the device while writing {_quoted(path)} ({len(payload)} "
                f"bytes); free some space or save elsewhere. The previous file, if any, is unchanged.",
            ) from error
        if isinstance(error, OSError):
            raise OSError(
                error.errno,
                f"save: could not write {_quoted(path)}: {error.strerror or error}. The previous "
                f"file, if any, is unchanged.",
            ) from error
        raise


def save(obj, path) -> None:
    """Write a state dict (or nested dicts/lists of arrays and numbers) to ``path`` as safetensors.

    A flat dict of arrays keeps its keys as the tensor names, so the file loads into
    PyTorch with ``safetensors.torch.load_file`` unchanged. The write is atomic (a temporary
    file renamed into place); see the module docstring for permissions and symlinks.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import save as to_bytes

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"save: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fsdecode(os.fspath(path))
    tensors: dict = {}
    structure = _flatten(obj, tensors, "", _quoted(path))
    metadata = {
        _STRUCTURE_KEY: json.dumps({"format": _STRUCTURE_FORMAT, "structure": structure}),
        _CHECKSUM_KEY: _checksum(tensors),
    }
    try:
        payload = to_bytes(tensors, metadata=metadata)
    except SafetensorError as error:
        raise ValueError(f"save: safetensors could not encode the data for {_quoted(path)}: {error}") from None
    _write_atomically(path, payload)


# ---------------------------------------------------------------------------------------
# load: reading the file
# ---------------------------------------------------------------------------------------
def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return kind
    return "not a regular file"


def _read_file(path: str, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, refusing directories, FIFOs, devices, huge files."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"load: no such file: {_quoted(path)}") from None
    except IsADirectoryError:
        raise IsADirectoryError(errno.EISDIR, _directory_message(path)) from None
    except PermissionError:
        raise PermissionError(errno.EACCES, f"load: permission denied reading {_quoted(path)}") from None
    except OSError as error:
        raise OSError(error.errno, f"load: cannot open {_quoted(path)}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, _directory_message(path))
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"load: {_quoted(path)} is {_file_kind(info.st_mode)}, not a regular file; "
                f"checkpoints are read from regular files only (a pipe or device may block or never end)."
            )
        if info.st_size > max_bytes:
            raise ValueError(_too_large_message(path, f"is {info.st_size} bytes", max_bytes))
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:           # the file grew while being read
                raise ValueError(_too_large_message(path, "grew while being read", max_bytes))
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as error:
        if error.strerror and error.strerror.startswith("load:"):
            raise
        raise OSError(error.errno, f"load: cannot read {_quoted(path)}: {error.strerror}") from None
    finally:
        os.close(fd)


def _directory_message(path: str) -> str:
    return f"load: {_quoted(path)} is a directory, not a checkpoint file; pass the path of a .safetensors file"


def _too_large_message(path: str, what: str, max_bytes: int) -> str:
    return (
        f"load: {_quoted(path)} {what}, more than max_bytes={max_bytes}; if you trust the file, "
        f"call load(path, max_bytes=...) with a larger limit"
    )


def _looks_like_pickle(data: bytes) -> bool:
    # Protocol 2+ pickles start with PROTO (0x80) and a protocol number 2..5.
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


# ---------------------------------------------------------------------------------------
# load: the safetensors header
# ---------------------------------------------------------------------------------------
class _BadFile(ValueError):
    """A checkpoint problem; ``load`` prefixes the function and the file."""


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _BadFile(f"the header names {key!r} twice")
        seen[key] = value
    return seen


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_header(data: bytes) -> tuple:
    """(entries, metadata) of a safetensors file, every field checked against the file."""
    if len(data) == 0:
        raise _BadFile("it is empty (0 bytes)")
    if len(data) < 8:
        raise _BadFile(
            f"it is {len(data)} bytes, shorter than the 8-byte header length that starts a "
            f"safetensors file (truncated?)"
        )
    header_size = int.from_bytes(data[:8], "little")
    if header_size > MAX_HEADER_BYTES:
        raise _BadFile(
            f"its header claims {header_size} bytes, more than safetensors' limit of "
            f"{MAX_HEADER_BYTES}; it is corrupted or not a safetensors file"
        )
    if 8 + header_size > len(data):
        raise _BadFile(
            f"its header claims {header_size} bytes but only {len(data) - 8} follow the length "
            f"field; the file is truncated or not a safetensors file"
        )
    if header_size < 2:
        raise _BadFile(f"its header is {header_size} bytes, too short for a JSON object")
    raw = data[8:8 + header_size]
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as error:
        raise _BadFile(f"its header is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except RecursionError:
        raise _BadFile("its header nests too deeply to be a safetensors header") from None
    except _BadFile:
        raise
    except ValueError as error:
        raise _BadFile(f"its header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise _BadFile(f"its header is a JSON {type(header).__name__}, not an object of tensors")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _BadFile("its __metadata__ must map strings to strings")
    data_size = len(data) - 8 - header_size
    entries = []
    for name, entry in header.items():
        entries.append(_check_entry(name, entry, data_size))
    # The byte ranges, in file order, must tile the data exactly (as safetensors requires).
    entries.sort(key=lambda e: (e[3], e[4]))
    position, previous = 0, None
    for name, _, _, begin, end in entries:
        if begin < position:
            raise _BadFile(
                f"tensors {previous!r} and {name!r} overlap (bytes {begin}..{position} are claimed "
                f"by both)"
            )
        if begin > position:
            raise _BadFile(f"bytes {position}..{begin} of the data belong to no tensor (before {name!r})")
        position, previous = end, name
    if position != data_size:
        raise _BadFile(
            f"{data_size - position} byte(s) after the last tensor belong to no tensor "
            f"(the data is {data_size} bytes, the tensors cover {position})"
        )
    return entries, metadata


def _check_entry(name, entry, data_size: int) -> tuple:
    if not name:
        raise _BadFile("a tensor has an empty name")
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise _BadFile(f"tensor {name!r} must have exactly dtype, shape and data_offsets, got {keys}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype in _NOT_IN_NUMPY:
        raise _BadFile(
            f"tensor {name!r} has dtype {dtype}, which NumPy cannot hold; convert it in PyTorch "
            f"(e.g. tensor.float()) and save it again"
        )
    if dtype not in _NUMPY_OF:
        raise _BadFile(f"tensor {name!r} has unknown dtype {dtype!r}; known: {', '.join(_NUMPY_OF)}")
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise _BadFile(f"tensor {name!r} has shape {shape!r}; a shape is a list of non-negative ints")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(n) for n in offsets)
            or offsets[0] > offsets[1]):
        raise _BadFile(
            f"tensor {name!r} has data_offsets {offsets!r}; they must be [begin, end] with 0 <= begin <= end"
        )
    begin, end = offsets
    if end > data_size:
        raise _BadFile(
            f"tensor {name!r} has data_offsets [{begin}, {end}] beyond the {data_size} bytes of data "
            f"(truncated file?)"
        )
    needed = math.prod(shape) * np.dtype(_NUMPY_OF[dtype]).itemsize
    if needed != end - begin:
        raise _BadFile(
            f"tensor {name!r} of dtype {dtype} and shape {tuple(shape)} needs {needed} bytes, but "
            f"its data_offsets [{begin}, {end}] hold {end - begin}"
        )
    return name, dtype, tuple(shape), begin, end


def _load_safetensors(data: bytes):
    from safetensors import SafetensorError
    from safetensors.numpy import load as from_bytes

    entries, metadata = _parse_header(data)
    try:
        decoded = from_bytes(data)
    except SafetensorError as error:
        raise _BadFile(f"safetensors refused it: {error}") from None
    # Writable copies in native byte order (the decoded arrays are views of the file's bytes),
    # in the header's shape: safetensors.numpy gives a 0-d tensor as shape (1,).
    tensors = OrderedDict(
        (name, np.array(decoded[name], dtype=_NUMPY_OF[dtype]).reshape(shape)) for name, dtype, shape, *_ in entries
    )
    if _CHECKSUM_KEY in metadata and _checksum(tensors) != metadata[_CHECKSUM_KEY]:
        raise _BadFile(
            "its tensor data does not match the SHA-256 that minigrad.save stored with it "
            "(flipped bits, or bytes changed after saving); load a good copy"
        )
    if _STRUCTURE_KEY not in metadata:
        return Checkpoint(tensors)     # any safetensors file: its tensors in file order
    try:
        meta = json.loads(metadata[_STRUCTURE_KEY])
    except RecursionError:
        raise _BadFile(f"its {_STRUCTURE_KEY} metadata nests too deeply") from None
    except ValueError as error:
        raise _BadFile(f"its {_STRUCTURE_KEY} metadata is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != _STRUCTURE_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise _BadFile(f"its {_STRUCTURE_KEY} metadata has format {found!r}, expected {_STRUCTURE_FORMAT!r}")
    return _rebuild(meta.get("structure"), tensors)


# ---------------------------------------------------------------------------------------
# load: the structure (shared by both formats)
# ---------------------------------------------------------------------------------------
def _unflatten(node, arrays: dict, used: set, path: str):
    if not isinstance(node, dict) or len(node) != 1:
        raise _BadFile(f"malformed structure entry at {path}")
    (kind, value), = node.items()
    if kind == "array":
        if not isinstance(value, str) or value not in arrays:
            raise _BadFile(f"the structure names array {value!r} (for {path}), which the file does not hold")
        if value in used:
            raise _BadFile(f"the structure names array {value!r} twice (again at {path})")
        used.add(value)
        return arrays[value]
    if kind == "dict":
        if not isinstance(value, list) or not all(
            isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int)) for item in value
        ):
            raise _BadFile(f"malformed dict entry at {path}")
        return OrderedDict((k, _unflatten(v, arrays, used, f"{path}.{k}")) for k, v in value)
    if kind in ("list", "tuple"):
        if not isinstance(value, list):
            raise _BadFile(f"malformed {kind} entry at {path}")
        items = [_unflatten(v, arrays, used, f"{path}[{i}]") for i, v in enumerate(value)]
        return items if kind == "list" else tuple(items)
    if kind == "value":
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise _BadFile(f"malformed value entry at {path}")
        return value
    raise _BadFile(f"unknown structure kind {kind!r} at {path}")


def _rebuild(structure, arrays: dict):
    used: set = set()
    try:
        result = _unflatten(structure, arrays, used, "<root>")
    except RecursionError:
        raise _BadFile("its structure nests too deeply") from None
    extra = [name for name in arrays if name not in used]
    if extra:
        raise _BadFile(f"it holds array(s) {extra} that its structure does not place; it is corrupted")
    return Checkpoint(result) if isinstance(result, dict) else result


# ---------------------------------------------------------------------------------------
# load: the older .npz format
# ---------------------------------------------------------------------------------------
_NPZ_META = "__minigrad_structure__"
_NPZ_FORMAT = "minigrad-npz-1"


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One .npy member, its header checked against its size before any data is read."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise _BadFile(f"member {info.filename!r} has .npy version {version}")
        if dtype.hasobject:
            raise _BadFile("it contains an object (pickled) array; refusing to load it")
        needed = math.prod(shape) * dtype.itemsize
        available = info.file_size - member.tell()
        if needed != available:
            raise _BadFile(
                f"member {info.filename!r} claims shape {shape} of {dtype} ({needed} bytes) but "
                f"holds {available} bytes"
            )
        raw = member.read(needed)
    array = np.frombuffer(raw, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def _load_npz(data: bytes, max_bytes: int):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise _BadFile(f"it is corrupted or truncated (not a readable .npz archive: {error})") from None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if any(name.endswith("data.pkl") for name in names):
            raise _BadFile(
                "it is a PyTorch torch.save checkpoint (a zipped pickle), not a minigrad "
                "checkpoint; pickles are never loaded. In PyTorch, write it with "
                "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')"
            )
        unpacked = sum(info.file_size for info in infos)
        if unpacked > max_bytes:
            raise _BadFile(
                f"its archive unpacks to {unpacked} bytes, more than max_bytes={max_bytes}; if you "
                f"trust the file, call load(path, max_bytes=...) with a larger limit"
            )
        if _NPZ_META + ".npy" not in names:
            raise _BadFile("it has no minigrad structure entry; it was not written by minigrad.save")
        arrays = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                continue
            try:
                arrays[info.filename[:-4]] = _read_npy(archive, info)
            except _BadFile:
                raise
            except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError,
                    NotImplementedError, RuntimeError) as error:
                # zipfile reports bad CRCs, encryption and unknown compression this way.
                raise _BadFile(
                    f"member {info.filename!r} is corrupted or truncated ({type(error).__name__}: {error})"
                ) from None
    meta_bytes = arrays.pop(_NPZ_META)
    try:
        meta = json.loads(meta_bytes.tobytes().decode("utf-8"))
    except RecursionError:
        raise _BadFile("its structure entry nests too deeply") from None
    except ValueError as error:
        raise _BadFile(f"it is corrupted: its structure entry is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != _NPZ_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise _BadFile(f"it has format {found!r}, expected {_NPZ_FORMAT!r}")
    return _rebuild(meta.get("structure"), arrays)


# ---------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------
def load(path, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Read a checkpoint: any safetensors file, or minigrad's older ``.npz`` format.

    Returns a :class:`Checkpoint` (an ordered dict of NumPy arrays, remembering ``path``)
    for a state dict, or the nested structure ``save`` was given. Never unpickles. A bad
    file raises one error naming ``load`` and the file: ``FileNotFoundError``,
    ``IsADirectoryError``, ``PermissionError``, or ``ValueError`` saying what is wrong
    (truncated, oversized or malformed header, unknown dtype, byte ranges out of bounds or
    overlapping, a FIFO or device, larger than ``max_bytes``).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"load: path must be a str or os.PathLike, got {type(path).__name__}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise TypeError(f"load: max_bytes must be a non-negative int, got {max_bytes!r}")
    path = os.fsdecode(os.fspath(path))
    data = _read_file(path, max_bytes)
    try:
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            result = _load_npz(data, max_bytes)
        elif _looks_like_pickle(data):
            raise _BadFile(
                "it starts like a pickle; pickle files are never loaded. Save checkpoints with "
                "mg.save (or safetensors.torch.save_file in PyTorch)"
            )
        else:
            result = _load_safetensors(data)
    except _BadFile as error:
        raise ValueError(
            f"load: {_quoted(path)} is not a minigrad checkpoint (safetensors, or the older .npz): {error}"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise ValueError(
            f"load: {_quoted(path)} is not a minigrad checkpoint: it is corrupted or truncated "
            f"({type(error).__name__}: {error})"
        ) from None
    if isinstance(result, Checkpoint):
        result.source = path
    return result
