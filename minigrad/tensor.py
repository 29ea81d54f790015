"""Tensor: an array, its gradient, and the link to the op that made it.

This file says what a tensor *is* and how to make one (``tensor``, ``zeros``, ``lift``, ...).
What a tensor can *do* (``+``, ``@``, ``sum``, ``reshape``, ``backward``, ...) calls the ops,
which sit above this file because they build tensors: those methods are written in
``tensor_methods.py`` and added to the class there.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from minigrad import backend
from minigrad import random as _random
from minigrad.modes import GradMode, bump_version

_FLOAT_KINDS = "fc"


#: how to write each in-place change out of place, for the in-place error's hint
_OUT_OF_PLACE = {
    "+=": "write it out of place: x = x + y",
    "-=": "write it out of place: x = x - y",
    "*=": "write it out of place: x = x * y",
    "/=": "write it out of place: x = x / y",
    "__setitem__": "build a new tensor instead of assigning entries, e.g. "
                   "x = minigrad.where(mask, value, x)",
    "zero_": "use a new tensor: x = minigrad.zeros_like(x)",
    "add_": "write it out of place: x = x + y",
    "sub_": "write it out of place: x = x - y",
    "mul_": "write it out of place: x = x * y",
    "div_": "write it out of place: x = x / y",
    "fill_": "use a new tensor: x = minigrad.full(x.shape, value)",
    "copy_": "use the source itself, or set p.data = src under no_grad()",
    "clamp_": "write it out of place: x = x.clamp(min, max)",
}


class _Size(int):
    """A tensor's element count (NumPy's ``x.size``) that is also PyTorch's ``x.size()``.

    ``x.size`` reads as an int, as in NumPy; calling it, ``x.size()`` gives the shape and
    ``x.size(dim)`` one axis' length, as in PyTorch. Both spellings work unchanged.
    """

    def __new__(cls, shape: tuple):
        count = 1
        for length in shape:
            count *= length
        size = int.__new__(cls, count)
        size.shape = shape
        return size

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        if not isinstance(dim, (int, np.integer)) or not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size: dim {dim!r} is out of range for a tensor of shape {self.shape}")
        return self.shape[dim]


def _no_numpy_extras(function: str, dtype, out) -> None:
    """Refuse NumPy's dtype= and out= (np.sum(t) passes them as None)."""
    if out is not None:
        raise TypeError(f"{function}: out= is not supported on tensors; assign the result instead")
    if dtype is not None:
        raise TypeError(f"{function}: dtype= is not supported; cast first, e.g. t.astype('float64').{function}()")


def _read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


#: the tensor behind each read-only ``data`` view still alive (for ``t.data -= x``):
#: id(view) -> (weak reference to the view, weak reference to its tensor); an entry goes
#: when its view does
_VIEW_OWNERS: dict = {}


def _remember_owner(view: np.ndarray, tensor: "Tensor") -> None:
    key = id(view)
    _VIEW_OWNERS[key] = (weakref.ref(view, lambda _, key=key: _VIEW_OWNERS.pop(key, None)), weakref.ref(tensor))


def view_owner(array: np.ndarray) -> "Tensor | None":
    """The tensor whose ``data`` gave ``array`` (a view still alive), or None."""
    entry = _VIEW_OWNERS.get(id(array))
    if entry is None or entry[0]() is not array:
        return None
    return entry[1]()


def _is_sympy(value) -> bool:
    module = type(value).__module__
    return module.startswith("sympy")


def _to_array(data, dtype=None) -> np.ndarray:
    """Turn user data into an ndarray: floats stay floats, SymPy entries go into an object array."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
    if isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if _is_sympy(data):
        return backend.to_object_array(data)
    return np.asarray(data, dtype=dtype)


class Tensor:
    """A NumPy array (float, or an object array of SymPy expressions) that records gradients.

    ``t.grad`` is None until a backward pass reaches ``t`` (only leaves keep a gradient,
    unless ``retain_grad()`` is called). Ops on tensors build the graph that ``backward``
    walks; under ``minigrad.no_grad()`` nothing is recorded.

    PyTorch's and NumPy's spellings both work: ``dim``/``keepdim`` or ``axis``/``keepdims``
    on every reduction and softmax; ``x.size`` is the element count (NumPy) and
    ``x.size()`` the shape (PyTorch); ``numel()``, ``dim()``, ``view``, ``unsqueeze``,
    ``permute`` and PyTorch's in-place methods (``add_``, ``mul_``, ``zero_``, ...).
    Where the two libraries mean different things the spelling decides:
    ``x.max(1)``/``x.max(dim=1)`` give PyTorch's (values, indices) and ``x.max(axis=1)``
    NumPy's values; ``var``/``std`` with ``axis=``/``ddof=`` divide by n - ddof (default 0,
    NumPy) and otherwise by n - correction (default 1, PyTorch); ``x.transpose(0, 1)``
    swaps two axes (PyTorch) and ``x.transpose((2, 0, 1))`` permutes all (NumPy).
    The in-place methods follow PyTorch's rules (allowed under ``no_grad()``, counted by the
    in-place clock), with one difference on purpose: while gradients are recorded they are
    refused on any tensor that requires grad, not only on leaves, because a node of the
    graph is never rewritten after it is made (write ``x = x + y`` instead).
    NumPy's functions take tensors: ``np.sum(t)``, ``np.exp(t)`` and the other functions
    with a minigrad counterpart run it (and keep the graph); any other function runs on
    the values of a tensor that is not recorded, and refuses one whose gradient it would
    drop.
    """

    __slots__ = ("_data", "grad", "requires_grad", "name", "_node", "_version", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, name: str | None = None, dtype=None):
        self._data = _to_array(data, dtype)
        self.grad = None
        self.requires_grad = False
        self.name = name
        self._node = None
        self._version = 0
        if requires_grad:
            self.requires_grad_(True)

    # Fast constructors for the engine (no conversion, no checks) ----------------------
    @classmethod
    def _from_op(cls, array: np.ndarray, node) -> "Tensor":
        t = object.__new__(cls)
        t._data = array
        t.grad = None
        t.requires_grad = True
        t.name = None
        t._node = node
        t._version = 0
        return t

    @classmethod
    def _constant(cls, array: np.ndarray) -> "Tensor":
        t = object.__new__(cls)
        t._data = array
        t.grad = None
        t.requires_grad = False
        t.name = None
        t._node = None
        t._version = 0
        return t

    # Data and in-place changes ---------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values as an ndarray.

        For a tensor that requires grad it is a read-only view: a graph may have saved this
        array, and a write that bypasses the engine would change a later backward pass
        without any error. Change such a tensor with ``t.data = new`` or ``t[...] = v`` under
        ``no_grad()`` (both counted by the in-place clock), or work on ``t.detach().clone()``.
        Other tensors (gradients, constants) give their array itself.

        ``t.data -= lr * t.grad`` (PyTorch's manual update) works: NumPy hands the in-place
        subtraction to the tensor operand, which computes the new values and stores them
        in ``t`` as ``t.data = new`` does (see ``minigrad._numpy_interop``).
        """
        if self.requires_grad:
            view = _read_only(self._data)
            _remember_owner(view, self)
            return view
        return self._data

    @data.setter
    def data(self, value) -> None:
        """Replace the values (no graph is recorded). Counts as an in-place change."""
        value = _to_array(value)
        if value is self._data or value.base is self._data and value.shape == self._data.shape:
            # (t.data -= x stored the values already; the assignment hands them back)
            self._bump_version()
            return
        if value.shape != self._data.shape and self.requires_grad:
            raise ValueError(
                f"Tensor.data: new data has shape {value.shape}, this tensor has shape "
                f"{self._data.shape}; a tensor that requires grad keeps its shape."
            )
        self._data = value
        self._bump_version()

    def _bump_version(self) -> None:
        bump_version(self)

    def _check_inplace(self, op: str) -> None:
        if GradMode.enabled and self.requires_grad:
            kind = "a leaf tensor" if self._node is None else "a tensor"
            raise RuntimeError(
                f"{op.strip()}: in-place change of {kind} that requires grad (shape {self.shape}) "
                f"while gradients are recorded. Wrap it in minigrad.no_grad() (as optimisers do) "
                f"or {_OUT_OF_PLACE.get(op.strip(), 'compute a new tensor instead')}."
            )

    def _inplace(self, op: str, other, fn) -> "Tensor":
        self._check_inplace(op)
        other = other.data if isinstance(other, Tensor) else other
        result = fn(self._data, other)
        if result.shape != self._data.shape:
            raise ValueError(
                f"{op}: in-place result has shape {result.shape}, not this tensor's {self.shape}"
            )
        if self._data.flags.writeable and result.dtype == self._data.dtype:
            self._data[...] = result
        else:
            self._data = result.astype(self._data.dtype, copy=False)
        self._bump_version()
        return self

    def __iadd__(self, other):
        return self._inplace(" += ", other, np.add)

    def __isub__(self, other):
        return self._inplace(" -= ", other, np.subtract)

    def __imul__(self, other):
        return self._inplace(" *= ", other, np.multiply)

    def __itruediv__(self, other):
        return self._inplace(" /= ", other, np.true_divide)

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self._data = np.zeros_like(self._data)
        self._bump_version()
        return self

    # Attributes --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> int:
        """The number of entries (NumPy); ``x.size()`` gives the shape (PyTorch)."""
        return _Size(self._data.shape)

    def numel(self) -> int:
        """The number of entries."""
        return int(self._data.size)

    def dim(self) -> int:
        """The number of axes (PyTorch's name for ``ndim``)."""
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        """The node that produced this tensor (None for a leaf)."""
        return self._node

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def numpy(self) -> np.ndarray:
        """The data as an ndarray, shared with the tensor (not copied).

        As in PyTorch, a tensor that requires grad refuses: writes to the array would escape
        the graph. ``t.detach().numpy()`` gives a read-only view of its values.
        """
        if self.requires_grad:
            raise RuntimeError(
                f"numpy: this tensor (shape {self.shape}) requires grad, and writes to the shared "
                f"array would change what its graph saw without any error. Use "
                f"t.detach().numpy() for a read-only view or np.array(t.detach()) for a copy."
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        """The values for NumPy (read-only for a tensor that requires grad, like ``data``)."""
        array = self.data
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        if self._data.size != 1:
            raise ValueError(
                f"item: only a tensor with one element converts to a Python number; this one "
                f"has shape {self.shape}"
            )
        return self._data.reshape(()).item() if self.dtype != object else self._data.reshape(-1)[0]

    def tolist(self):
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its number (``f"{loss:.4f}"``); others only without a spec."""
        if self._data.ndim == 0 and self.dtype != object:
            return format(self._data.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(
            f"format: spec {spec!r} applies to a 0-d tensor; this one has shape {self.shape}. "
            f"Format t.item() for a one-element tensor, or each entry of t.tolist()."
        )

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"The truth value of a tensor with {self._data.size} elements is ambiguous; use "
                f".any() or .all() on its numpy() array."
            )
        return bool(self._data.reshape(-1)[0])

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory).

        The detached tensor of one that requires grad shares a read-only view: reading costs
        no copy, and an in-place change of the detached tensor (``d += 1``) gives it an array
        of its own instead of writing into the original behind its graph's back.
        """
        if self.requires_grad:
            return Tensor._constant(_read_only(self._data))
        return Tensor._constant(self._data)

    def copy(self) -> "Tensor":
        """A detached copy of the data, with the same name."""
        return Tensor(self._data.copy(), name=self.name)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self._data.dtype.kind == "c":
            raise TypeError(
                f"requires_grad: complex tensors (dtype {self._data.dtype}) cannot require "
                f"gradients in minigrad: complex differentiation (Wirtinger derivatives, which "
                f"gradient is conjugated) is not designed yet, and a half-done version would give "
                f"wrong numbers. Split the data into real and imaginary float tensors instead."
            )
        if requires_grad and self._data.dtype.kind not in _FLOAT_KINDS and self._data.dtype != object:
            raise TypeError(
                f"requires_grad: only floating-point (or symbolic) tensors can require gradients, "
                f"but this tensor has dtype {self._data.dtype}. Create it as floats, e.g. "
                f"minigrad.tensor(data, dtype='float64')."
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "requires_grad_(False): this tensor was computed by an op; use .detach() instead"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if self._node is not None:
            if self._node.retained is None:
                self._node.retained = []
            self._node.retained.append(weakref.ref(self))
        return self

    # Display -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self.dtype == object:
            body = np.array2string(self._data, separator=", ", formatter={"object": str})
        else:
            body = np.array2string(self._data, separator=", ", precision=4)
        body = body.replace("\n", "\n" + " " * 7)
        extras = []
        if self.dtype != np.float64 and self.dtype != object:
            extras.append(f"dtype={self.dtype}")
        if self.name:
            extras.append(f"name={self.name!r}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    # PyTorch's in-place methods ---------------------------------------------------------
    # Each is refused on a tensor that requires grad while gradients are recorded, is
    # allowed under no_grad() (as optimisers use it), and ticks the in-place clock, so a
    # graph that saved the tensor refuses its backward pass afterwards.
    def add_(self, other, alpha=1):
        if alpha != 1:
            return self._inplace("add_", other, lambda a, b: a + alpha * b)
        return self._inplace("add_", other, np.add)

    def sub_(self, other, alpha=1):
        if alpha != 1:
            return self._inplace("sub_", other, lambda a, b: a - alpha * b)
        return self._inplace("sub_", other, np.subtract)

    def mul_(self, other):
        return self._inplace("mul_", other, np.multiply)

    def div_(self, other):
        return self._inplace("div_", other, np.true_divide)

    def fill_(self, value):
        return self._inplace("fill_", value, lambda a, b: np.full_like(a, b))

    def copy_(self, src):
        return self._inplace("copy_", src, lambda a, b: np.broadcast_to(np.asarray(b, dtype=a.dtype), a.shape).copy())

    def clamp_(self, min=None, max=None):  # (PyTorch's argument names)
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        low = -np.inf if min is None else min
        high = np.inf if max is None else max
        return self._inplace("clamp_", None, lambda a, _: np.minimum(np.maximum(a, low), high).astype(a.dtype))


def lift(value, like: Tensor | None = None) -> Tensor:
    """Make ``value`` a tensor; a Python number takes the float dtype of ``like``.

    Keeping ``float32 tensor * 0.5`` in float32 needs this: a 0-d float64 array would
    promote the result to float64 under NumPy 2's rules. Number constants are cached
    (they are read-only 0-d arrays that no graph can change), because programs repeat
    the same few (1, 0.5, a learning rate) in every op of a loop.
    """
    if isinstance(value, Tensor):
        return value
    kind = type(value)
    if kind is float or kind is int:
        dtype = like._data.dtype if like is not None and isinstance(like, Tensor) else None
        key = (dtype, value, kind)
        cached = _CONSTANTS.get(key)
        # (-0.0 == 0.0, so it would find 0.0's entry: only a positive zero is served)
        if cached is not None and (value or kind is int or math.copysign(1.0, value) > 0):
            return cached
        return _number_constant(key)
    return Tensor._constant(_to_array(value))


def _number_constant(key: tuple) -> Tensor:
    """The constant tensor for (dtype of ``like``, number, its Python type), cached."""
    dtype, value, _ = key
    if dtype is None or dtype.kind not in _FLOAT_KINDS:
        array = backend.to_object_array(backend.exact(value)) if dtype is not None and dtype.kind == "O" \
            else np.asarray(value)
    else:
        array = np.asarray(value, dtype=dtype)
    array.flags.writeable = False
    constant = Tensor._constant(array)
    # (never -0.0, which 0.0's lookups would find, nor NaN, which no lookup finds)
    if len(_CONSTANTS) < 4096 and value == value and (value or math.copysign(1.0, value) > 0):
        _CONSTANTS[key] = constant
    return constant


_CONSTANTS: dict = {}


# ---------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------
def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for size in shape:
        if not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"shape must be non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """A new leaf tensor from a number, nested lists, an ndarray, SymPy expressions or a tensor.

    The data is always copied, as ``torch.tensor`` does: a later change of the source array
    cannot reach the tensor (or a graph that saved it). ``from_numpy`` shares instead.
    """
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        data = np.array(data, dtype=dtype) if dtype is not None else data.copy()
    return Tensor(data, requires_grad=requires_grad, name=name, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor that shares ``array``'s memory (no copy), as ``torch.from_numpy`` does.

    Changes to ``array`` show in the tensor and the tensor's in-place changes show in
    ``array``. Writes to ``array`` are not seen by the in-place clock, so do not change it
    while a graph that used the tensor waits for its backward pass; ``tensor(array)``
    copies when in doubt.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}; use minigrad.tensor for other data"
        )
    return Tensor(array, requires_grad=requires_grad, name=name)


def zeros(*shape, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad, name)


def ones(*shape, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad, name)


def full(shape, fill_value, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return Tensor(np.full(_shape_arg(shape), fill_value, dtype=dtype), requires_grad, name)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    array = np.asarray(t.data if isinstance(t, Tensor) else t)
    dtype = dtype or (array.dtype if array.dtype.kind != "O" else float)
    return Tensor(np.zeros(array.shape, dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    array = np.asarray(t.data if isinstance(t, Tensor) else t)
    return Tensor(np.ones(array.shape, dtype=dtype or (array.dtype if array.dtype != object else float)), requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad)


def randn(*shape, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    """Standard normal draws from the library's generator (see ``manual_seed``)."""
    data = _random.generator().standard_normal(_shape_arg(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad, name)


def rand(*shape, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    """Uniform draws on [0, 1) from the library's generator."""
    data = _random.generator().random(_shape_arg(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad, name)


def symbols(prefix: str, shape=(), requires_grad: bool = True, real: bool = True) -> Tensor:
    """A tensor of SymPy symbols named ``prefix_i_j`` (``prefix`` alone for shape ()).

    Symbols are real by default, which lets SymPy simplify |x|, sqrt(x^2) and friends.
    """
    sp = backend.sympy()
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    data = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        label = "_".join([prefix, *map(str, index)]) if index else prefix
        data[index] = sp.Symbol(label, real=real)
    return Tensor(data, requires_grad=requires_grad, name=prefix)
