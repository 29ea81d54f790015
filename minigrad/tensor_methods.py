"""What a tensor can do: arithmetic, comparisons, reductions, reshaping, casts and backward.

``minigrad/tensor.py`` defines what a tensor *is* (its array, gradient, graph link and
version) and the functions that make one. Its operators and array methods call the ops,
and the ops build tensors, so the methods cannot sit in tensor.py without an import loop:
they are written here, above the ops, and added to the ``Tensor`` class when this module is
imported (``import minigrad`` does it, once). This is the one place where the engine's layers
meet in both directions. JAX adds its array methods to its array class the same way
(jax/_src/numpy/array_methods.py).

Each method is a thin call of an op or a function; the maths, and its VJP, is in ``ops/`` and
``functional.py``.
"""
from __future__ import annotations

from types import FunctionType

import numpy as np

from minigrad import _numpy_interop, backend
from minigrad import autograd as _autograd
from minigrad import functional as _functional
from minigrad import ops as _ops
from minigrad.ops import reduce as _reduce
from minigrad.ops import special as _special
from minigrad.ops.cast import Cast
from minigrad.ops.elementwise import Add, Div, Mul, Sub
from minigrad.ops.registry import apply_binary
from minigrad.ops.shape import _normalize_index
from minigrad.tensor import Tensor, _no_numpy_extras, lift


class _TensorMethods:
    """The methods that ``attach`` adds to ``Tensor`` (never instantiated)."""

    def __setitem__(self, index, value) -> None:
        """``x[index] = value``: an in-place change (see ``Tensor._check_inplace``)."""
        self._check_inplace("__setitem__")
        if not self._data.flags.writeable:
            self._data = self._data.copy()
        self._data[_normalize_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump_version()

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on tensors: see ``_numpy_interop.ufunc``."""
        return _numpy_interop.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions on tensors: see ``_numpy_interop.function``."""
        return _numpy_interop.function(func, args, kwargs)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (identity op)."""
        return _ops.add(self, Tensor._constant(np.zeros((), dtype=self.dtype if self.dtype != object else int)))

    def astype(self, dtype) -> "Tensor":
        """Cast to another float dtype (gradients flow back, cast to the input's dtype)."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        return _ops.apply(Cast, self, dtype=dtype)

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
        _autograd.backward(self, gradient, retain_graph, create_graph)

    # Arithmetic --------------------------------------------------------------------------
    # __add__, __sub__, __mul__ and __truediv__ are made by _arithmetic, below.

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
        axis, keepdims = _reduce.resolve_axis("sum", dim, axis, keepdim, keepdims)
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
            axis, keepdims = _reduce.resolve_axis("max", None, axis, keepdim, keepdims)
            return _ops.max_(self, axis, keepdims)
        _reduce.resolve_axis("max", dim, axis, keepdim, keepdims)
        return _reduce.max_values_indices(self, dim, bool(keepdim))

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Smallest entry; the same spellings as ``max``."""
        if isinstance(dim, Tensor):
            return _ops.minimum(self, dim)
        if dim is None:
            axis, keepdims = _reduce.resolve_axis("min", None, axis, keepdim, keepdims)
            return _ops.min_(self, axis, keepdims)
        _reduce.resolve_axis("min", dim, axis, keepdim, keepdims)
        return _reduce.min_values_indices(self, dim, bool(keepdim))

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

    def clamp(self, min=None, max=None):  # (PyTorch's argument names)
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


def _arithmetic(op, name: str):
    """``tensor <op> other`` for a binary primitive: the hottest path of most programs.

    ``other`` may be a tensor or a number; a number becomes a constant of this tensor's dtype
    through ``lift`` (which keeps them cached).
    """

    def method(self, other):
        if not isinstance(other, Tensor):
            other = lift(other, self)
        return apply_binary(op, self, other)

    method.__name__ = name
    method.__doc__ = f"self {op.name} other (a number takes this tensor's dtype), broadcast like NumPy."
    return method


def attach(cls: type) -> None:
    """Add the methods of ``_TensorMethods`` and the four arithmetic operators to ``cls``."""
    for name, value in vars(_TensorMethods).items():
        # only what the class body defines: not the bookkeeping Python adds to every class
        # (__module__, __dict__, __firstlineno__, ...), which would overwrite Tensor's own
        if not isinstance(value, (FunctionType, property)) and name != "__hash__":
            continue
        function = value.fget if isinstance(value, property) else value
        if isinstance(function, FunctionType) and function.__name__ == name:  # (clip = clamp stays clamp)
            function.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, value)
    for op, name in ((Add, "__add__"), (Sub, "__sub__"), (Mul, "__mul__"), (Div, "__truediv__")):
        method = _arithmetic(op, name)
        method.__qualname__ = f"{cls.__name__}.{name}"
        setattr(cls, name, method)


attach(Tensor)
