"""save / load of state dicts as ``.npz`` files: plain arrays, never pickle.

A file holds the flat arrays plus one JSON entry describing the structure (nested dicts,
lists, numbers, strings), so optimiser state dicts round-trip too. ``load`` opens the
archive with ``allow_pickle=False``: a file can never run code. ``save`` writes to a
temporary file beside the target and renames it into place, so a crash mid-write leaves
the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

_META = "__minigrad_structure__"
_FORMAT = "minigrad-npz-1"


def _flatten(obj, arrays: dict, path: str):
    from minigrad.tensor import Tensor

    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError(
                f"save: entry {path or '<root>'} is an object array (SymPy data?); only numeric "
                f"arrays can be saved"
            )
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} at {path}")
            items.append([k, _flatten(v, arrays, f"{path}.{k}" if path else str(k))])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_flatten(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, np.generic):
        return {"value": obj.item()}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {path or '<root>'}; store arrays, numbers, strings, lists and dicts")


def _unflatten(node, archive, path="<root>"):
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"load: malformed structure entry at {path}")
    (kind, value), = node.items()
    if kind == "array":
        if value not in archive:
            raise ValueError(f"load: the file is missing array {value!r} (for {path}); it is corrupted")
        return archive[value]
    if kind == "dict":
        return OrderedDict((k, _unflatten(v, archive, f"{path}.{k}")) for k, v in value)
    if kind == "list":
        return [_unflatten(v, archive, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "tuple":
        return tuple(_unflatten(v, archive, f"{path}[{i}]") for i, v in enumerate(value))
    if kind == "value":
        return value
    raise ValueError(f"load: unknown structure kind {kind!r} at {path}")


def save(obj, path) -> None:
    """Write a state dict (or nested dicts/lists of arrays and numbers) to ``path`` as .npz."""
    arrays: dict = {}
    structure = _flatten(obj, arrays, "")
    meta = json.dumps({"format": _FORMAT, "structure": structure})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".minigrad-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """Read what ``save`` wrote. Never unpickles; a bad file raises a ValueError saying why."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"load: {path} is not a minigrad checkpoint (.npz zip archive); it may be truncated, "
            f"corrupted or a different format (pickle files are never loaded)"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _META not in archive.files:
                raise ValueError(f"load: {path} has no minigrad structure entry; it was not written by minigrad.save")
            meta = json.loads(bytes(archive[_META]).decode("utf-8"))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"load: {path} has format {meta.get('format')!r}, expected {_FORMAT!r}")
            arrays = {name: archive[name] for name in archive.files if name != _META}
    except ValueError as error:
        message = str(error)
        if "allow_pickle" in message or "Object arrays" in message:
            raise ValueError(f"load: {path} contains an object (pickled) array; refusing to load it") from None
        if message.startswith("load:"):
            raise
        raise ValueError(f"load: {path} is corrupted or not a minigrad checkpoint: {message}") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"load: {path} is corrupted or truncated: {type(error).__name__}: {error}") from None
    return _unflatten(meta["structure"], arrays)
