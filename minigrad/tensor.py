"""Tensor: an array, its gradient, and the link to the op that made it."""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from minigrad import backend
from minigrad import random as _random
from minigrad.autograd import GradMode, bump_version
from minigrad.autograd import backward as _run_backward

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

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        from minigrad.ops.shape import _normalize_index

        if not self._data.flags.writeable:
            self._data = self._data.copy()
        self._data[_normalize_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump_version()

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
    def T(self) -> "Tensor":
        return _ops.transpose(self)

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

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on tensors: see ``_numpy_interop.ufunc``."""
        return _numpy_interop.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions on tensors: see ``_numpy_interop.function``."""
        return _numpy_interop.function(func, args, kwargs)

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

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (identity op)."""
        return _ops.add(self, Tensor._constant(np.zeros((), dtype=self.dtype if self.dtype != object else int)))

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

    def astype(self, dtype) -> "Tensor":
        """Cast to another float dtype (gradients flow back, cast to the input's dtype)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        return _ops.apply(_Cast, self, dtype=dtype)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    # Autograd ----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf.

        A scalar (or any one-element) output is seeded with 1; any other shape needs ``gradient=`` (the vector in
        the vector-Jacobian product). The graph's saved arrays are freed afterwards unless
        ``retain_graph=True``; ``create_graph=True`` records the backward pass itself so the
        gradients can be differentiated again (``retain_graph`` then defaults to True).
        """
        if gradient is None and self._data.ndim and self._data.size == 1 and self.dtype != object:
            # any one-element output is seeded with 1, as in PyTorch ((a @ b) of shape (1, 1))
            gradient = Tensor._constant(np.ones(self.shape, dtype=self.dtype))
        _run_backward(self, gradient, retain_graph, create_graph)

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

    # Arithmetic --------------------------------------------------------------------------
    # __add__, __sub__, __mul__ and __truediv__ are made by _arithmetic at the end of the
    # module (their primitives are defined after Tensor).

    def __radd__(self, other):
        return _ops.add(other, self)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, exponent):
        return _ops.pow_(self, exponent)

    def __rpow__(self, base):
        return _ops.pow_(lift(base, self), self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs_(self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons give boolean tensors and no gradient.
    def _compare(self, other, fn):
        backend.require_numeric("comparison", self._data)
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._constant(np.asarray(fn(self._data, other)))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other):  # type: ignore[override]
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__

    # Methods mirroring the functions -----------------------------------------------------
    # PyTorch's dim/keepdim and NumPy's axis/keepdims are both accepted; see the class
    # docstring for the few places where the two libraries mean different things.
    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=None, dtype=None, out=None):
        _no_numpy_extras("sum", dtype, out)
        axis, keepdims = _functional.resolve_axis("sum", dim, axis, keepdim, keepdims)
        return _ops.sum_(self, axis, keepdims)

    def mean(self, dim=None, keepdim=None, *, axis=None, keepdims=None, dtype=None, out=None):
        _no_numpy_extras("mean", dtype, out)
        return _functional.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, keepdim=None, *, axis=None, keepdims=None, ddof=None, correction=None,
            unbiased=None):
        """Variance; ``axis=``/``ddof=`` divide by n - ddof (NumPy), else by n - correction (PyTorch, 1)."""
        return _functional.var(self, dim, keepdim, axis=axis, keepdims=keepdims, ddof=ddof,
                               correction=correction, unbiased=unbiased)

    def std(self, dim=None, keepdim=None, *, axis=None, keepdims=None, ddof=None, correction=None,
            unbiased=None):
        """Standard deviation, with ``var``'s arguments and rules."""
        return _functional.std(self, dim, keepdim, axis=axis, keepdims=keepdims, ddof=ddof,
                               correction=correction, unbiased=unbiased)

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Largest entry: with ``dim`` (or positionally) PyTorch's (values, indices) named
        tuple; with ``axis=`` or no argument the values only; with a tensor, the elementwise max."""
        if isinstance(dim, Tensor):
            return _ops.maximum(self, dim)
        if dim is None:
            axis, keepdims = _functional.resolve_axis("max", None, axis, keepdim, keepdims)
            return _ops.max_(self, axis, keepdims)
        _functional.resolve_axis("max", dim, axis, keepdim, keepdims)
        return _functional.max_values_indices(self, dim, bool(keepdim))

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Smallest entry; the same spellings as ``max``."""
        if isinstance(dim, Tensor):
            return _ops.minimum(self, dim)
        if dim is None:
            axis, keepdims = _functional.resolve_axis("min", None, axis, keepdim, keepdims)
            return _ops.min_(self, axis, keepdims)
        _functional.resolve_axis("min", dim, axis, keepdim, keepdims)
        return _functional.min_values_indices(self, dim, bool(keepdim))

    def amax(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        return _functional.sort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        return _functional.topk(self, k, dim, largest, sorted)

    def prod(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.prod(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        return _functional.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def view(self, *shape):
        """The same entries in a new shape (a reshape: NumPy decides whether memory is shared)."""
        return _ops.reshape(self, *shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _functional.flatten_dims(self, start_dim, end_dim)

    def unsqueeze(self, dim: int):
        return _functional.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _functional.squeeze(self, dim)

    def permute(self, *dims):
        return _functional.permute(self, *dims)

    def expand(self, *sizes):
        return _functional.expand(self, *sizes)

    def repeat(self, *repeats):
        return _functional.repeat(self, *repeats)

    def split(self, split_size_or_sections, dim: int = 0):
        return _functional.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0):
        return _functional.chunk(self, chunks, dim)

    def clamp(self, min=None, max=None):  # noqa: A002  (PyTorch's argument names)
        return _functional.clamp(self, min, max)

    clip = clamp

    def masked_fill(self, mask, value):
        return _functional.masked_fill(self, mask, value)

    def transpose(self, *axes):
        """Permute the axes (NumPy: all of them, reversed by default); two ints swap those two (PyTorch)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) == 2 and axes[0] % max(self.ndim, 1) != axes[1] % max(self.ndim, 1):
            # (two distinct axes: NumPy would need every axis, or mean the identity on 2-D)
            return _ops.swapaxes(self, *axes)
        return _ops.transpose(self, axes or None)

    def swapaxes(self, axis1: int, axis2: int):
        return _ops.swapaxes(self, axis1, axis2)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def tanh(self):
        return _ops.tanh(self)

    def sin(self):
        return _special.sin(self)

    def cos(self):
        return _special.cos(self)

    def abs(self):
        return _ops.abs_(self)

    def relu(self):
        return _functional.relu(self)

    def sigmoid(self):
        return _functional.sigmoid(self)

    def softmax(self, dim: int = -1, *, axis=None):
        return _functional.softmax(self, dim, axis=axis)

    def log_softmax(self, dim: int = -1, *, axis=None):
        return _functional.log_softmax(self, dim, axis=axis)

    def matmul(self, other):
        return _ops.matmul(self, other)

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

    def clamp_(self, min=None, max=None):  # noqa: A002
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
        array = backend.to_object_array(backend.exact(value)) if dtype == object else np.asarray(value)
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
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}; use minigrad.tensor for other data")
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
    return Tensor(np.zeros(array.shape, dtype=dtype or (array.dtype if array.dtype != object else float)), requires_grad)


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


# ---------------------------------------------------------------------------------------
from minigrad.ops.registry import Primitive, register  # noqa: E402


@register
class _Cast(Primitive):
    """Change of float dtype; the gradient is cast back to the input's dtype."""

    name = "cast"
    formula = "grad_a = g (in a's dtype)"
    symbolic = False  # SymPy entries have no float dtype to cast to
    examples = [(((3, 2),), {"dtype": np.dtype(np.float64)}), (((),), {"dtype": np.dtype(np.float64)})]

    @staticmethod
    def forward(ctx, a, dtype):
        backend.require_numeric("cast", a)
        return a.astype(dtype)

    @staticmethod
    def vjp(ctx, grad):
        return (grad.astype(ctx.parents[0].dtype),)


from minigrad import ops as _ops  # noqa: E402
from minigrad.ops.registry import apply_binary as _apply_binary  # noqa: E402
from minigrad.ops.elementwise import Add as _Add, Div as _Div, Mul as _Mul, Sub as _Sub  # noqa: E402


def _arithmetic(op, name: str):
    """``tensor <op> other`` for a binary primitive: the hottest path of most programs.

    A float operand (``x * 0.5``) is looked up in the constants cache right here, without
    the call to ``lift``: that call was a tenth of the op's cost. Anything else goes
    through ``lift`` as usual.
    """

    def method(self, other):
        if not isinstance(other, Tensor):
            # (zeros go through lift, which tells -0.0 from 0.0)
            cached = _CONSTANTS.get((self._data.dtype, other, float)) if type(other) is float and other else None
            other = lift(other, self) if cached is None else cached
        return _apply_binary(op, self, other)

    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    method.__doc__ = f"self {op.name} other (a number takes this tensor's dtype), broadcast like NumPy."
    return method


Tensor.__add__ = _arithmetic(_Add, "__add__")
Tensor.__sub__ = _arithmetic(_Sub, "__sub__")
Tensor.__mul__ = _arithmetic(_Mul, "__mul__")
Tensor.__truediv__ = _arithmetic(_Div, "__truediv__")

from minigrad import functional as _functional  # noqa: E402
from minigrad import _numpy_interop  # noqa: E402
from minigrad.ops import special as _special  # noqa: E402
from minigrad.ops import conv as _conv  # noqa: E402,F401  (registers the convolutions)
