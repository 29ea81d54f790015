"""The messages between the grader and its sandboxed worker: JSON plus raw float64, no pickle.

A frame is
    8 bytes   magic b"MGRD" and the JSON header's length (uint32, little-endian)
    header    UTF-8 JSON object; every array inside it is {"__array__": k}, and the header
              lists the arrays as "__arrays__": [[shape...], ...]
    payload   the arrays' data, one after the other, as little-endian float64 (C order)
Tuples travel as {"__tuple__": [...]} (NumPy treats an axis tuple and a list differently).

The reader trusts nothing: the magic, the header's size, JSON that is an object, shapes of
non-negative ints with at most ``MAX_DIMS`` axes, and a total payload under the limit it
was given are all checked before a byte of payload is read. Any violation raises
:class:`ProtocolError`, which the grader turns into a score of 0 for the task.

Both sides import this module; it needs only the standard library and NumPy.
"""
from __future__ import annotations

import json
import os
import select
import struct
import time

import numpy as np

MAGIC = b"MGRD"
MAX_HEADER = 1 << 20  # bytes of JSON in one frame
MAX_DIMS = 8
# bytes of array data in one frame: the coursework's arrays are small, and the grader reads
# several workers at once, so this bounds its memory (a frame costs its payload once)
DEFAULT_MAX_PAYLOAD = 16 << 20


class ProtocolError(RuntimeError):
    """A frame that breaks the format (or a pipe closed in the middle of one)."""


class ReadTimeout(RuntimeError):
    """No complete frame arrived before the deadline."""


def encode(message: dict) -> bytes:
    """One frame for ``message`` (dicts, lists, tuples, str, int, float, bool, None, ndarrays)."""
    arrays: list = []

    def walk(value):
        if isinstance(value, (np.bool_, np.integer)):
            return bool(value) if isinstance(value, np.bool_) else int(value)
        if isinstance(value, (np.ndarray, np.floating)):
            # (ascontiguousarray would turn a 0-d array into shape (1,))
            array = np.array(value, dtype="<f8", order="C", copy=True)
            arrays.append(array)
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {str(key): walk(item) for key, item in value.items()}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(item) for item in value]}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"protocol.encode: cannot send a {type(value).__name__}")

    header = walk(message)
    header["__arrays__"] = [list(a.shape) for a in arrays]
    text = json.dumps(header, allow_nan=True).encode("utf-8")
    return MAGIC + struct.pack("<I", len(text)) + text + b"".join(a.tobytes() for a in arrays)


def _decode_header(text: bytes, max_payload: int) -> tuple:
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"the header is not JSON ({error})") from None
    except RecursionError:
        raise ProtocolError("the header nests too deeply") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"the header is a {type(header).__name__}, not an object")
    shapes = header.pop("__arrays__", [])
    if not isinstance(shapes, list):
        raise ProtocolError("'__arrays__' is not a list")
    sizes = []
    for shape in shapes:
        if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
            raise ProtocolError(f"an array shape {str(shape)[:80]} is not a list of at most {MAX_DIMS} sizes")
        count = 1
        for n in shape:
            count *= n
        sizes.append(count * 8)
        if sum(sizes) > max_payload:
            raise ProtocolError(f"the arrays of one message exceed {max_payload} bytes")
    return header, shapes, sizes


def _rebuild(header, arrays: list):
    def walk(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                index = value["__array__"]
                if type(index) is not int or not 0 <= index < len(arrays):
                    raise ProtocolError(f"an array reference {index!r} points at no array")
                return arrays[index]
            if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
                return tuple(walk(item) for item in value["__tuple__"])
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(header)


class FrameReader:
    """Reads frames from a file descriptor with a deadline, never more than the limits allow."""

    def __init__(self, fd: int, max_payload: int = DEFAULT_MAX_PAYLOAD):
        self.fd = fd
        self.max_payload = max_payload

    def _read_exact(self, count: int, deadline: float | None, into: memoryview | None = None):
        """``count`` bytes, read straight into ``into`` when given (no copies), else as bytes."""
        buffer = memoryview(bytearray(count)) if into is None else into
        done = 0
        while done < count:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ReadTimeout("no answer before the deadline")
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    raise ReadTimeout("no answer before the deadline")
            got = os.readv(self.fd, [buffer[done:done + min(count - done, 1 << 20)]])
            if not got:
                raise EOFError("the pipe was closed")
            done += got
        return bytes(buffer) if into is None else into

    def _read_array(self, shape, size: int, deadline: float | None) -> np.ndarray:
        array = np.empty(size // 8, dtype="<f8")
        self._read_exact(size, deadline, memoryview(array).cast("B"))
        return array.reshape(shape).astype(np.float64, copy=False)

    def read(self, deadline: float | None = None) -> dict:
        """The next message; raises EOFError, ReadTimeout or ProtocolError."""
        start = self._read_exact(8, deadline)
        if start[:4] != MAGIC:
            raise ProtocolError(f"a frame starts with {start[:4]!r}, not {MAGIC!r}")
        (length,) = struct.unpack("<I", start[4:])
        if length > MAX_HEADER:
            raise ProtocolError(f"a header of {length} bytes (at most {MAX_HEADER})")
        try:
            header, shapes, sizes = _decode_header(self._read_exact(length, deadline), self.max_payload)
            arrays = [self._read_array(shape, size, deadline) for shape, size in zip(shapes, sizes)]
        except EOFError:
            raise ProtocolError("the pipe closed in the middle of a frame") from None
        try:
            return _rebuild(header, arrays)
        except RecursionError:
            raise ProtocolError("the header nests too deeply") from None


def write_frame(fd: int, message: dict) -> None:
    """Send one message (blocking until the pipe takes all of it)."""
    data = memoryview(encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]
