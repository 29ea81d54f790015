"""NumPy's functions and ufuncs called on tensors (``np.sum(t)``, ``np.exp(t)``, ``a - t``).

NumPy hands a call that involves a tensor to ``Tensor.__array_ufunc__`` (ufuncs and the
arithmetic operators of an ndarray) or ``Tensor.__array_function__`` (the other
functions). The rules, the same for both:

- a NumPy name with a minigrad counterpart (``np.sum``, ``np.mean``, ``np.exp``,
  ``np.add``, ``np.reshape``, ``np.concatenate``, ...) runs the minigrad op, so the result
  is a tensor and the graph is kept (``dtype=``/``out=`` are refused with a message);
- any other function runs on the tensors' values and returns NumPy's result, unless
  some tensor requires grad while gradients are recorded and the result is numbers:
  that would drop the gradient without a word, so it is refused, naming the function
  (a yes/no answer such as ``np.allclose`` is let through: it has no gradient anyway);
- an in-place ufunc into an ndarray (``arr -= t``) writes the values into the array; when
  the array is the read-only ``data`` view of a tensor (``p.data -= lr * p.grad``), the
  new values are stored in that tensor as ``p.data = new`` would.
"""
from __future__ import annotations

import numpy as np

from minigrad import functional, ops
from minigrad.autograd import GradMode
from minigrad.tensor import Tensor, lift, view_owner


def _tensors(value):
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _values(value):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, list):
        return [_values(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_values(v) for v in value)
    return value


def _recorded(args, kwargs) -> bool:
    return GradMode.enabled and any(t.requires_grad for t in _tensors((args, kwargs)))


def _on_values(name: str, call, args, kwargs):
    """NumPy's own result on the tensors' values, refused where it would drop a gradient."""
    result = call(*_values(args), **{k: _values(v) for k, v in kwargs.items()})
    if _recorded(args, kwargs):
        dtypes = [np.asarray(r).dtype for r in (result if isinstance(result, tuple) else (result,))]
        if any(d.kind != "b" for d in dtypes):
            raise TypeError(
                f"numpy.{name}: minigrad has no counterpart of this function, and NumPy would "
                f"return plain numbers, dropping the gradient of a tensor that requires grad. "
                f"Compose it from minigrad ops to keep the gradient, or call it on t.detach() "
                f"(or under minigrad.no_grad()) if the value is all you need."
            )
    return result


def _plain(name: str, kwargs: dict, allowed: tuple) -> dict:
    """kwargs without NumPy's out=/dtype= (None is what np.sum passes on), refusing others."""
    kept = {}
    for key, value in kwargs.items():
        if key in allowed:
            kept[key] = value
        elif value is not None and not (key == "keepdims" and value is np._NoValue):
            raise TypeError(f"numpy.{name}: the argument {key}= is not supported on minigrad tensors")
    return kept


_UFUNCS = {
    "add": ops.add, "subtract": ops.sub, "multiply": ops.mul, "true_divide": ops.div,
    "divide": ops.div, "power": ops.pow_, "matmul": ops.matmul, "negative": ops.neg,
    "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "tanh": ops.tanh, "absolute": ops.abs_,
    "maximum": ops.maximum, "minimum": ops.minimum, "positive": lambda a: lift(a),
}
_COMPARISONS = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")


def ufunc(function, method: str, inputs: tuple, kwargs: dict):
    """A NumPy ufunc with a tensor among its operands (see the module docstring)."""
    name = function.__name__
    out = kwargs.pop("out", None)
    if out is not None:
        return _into_array(function, method, inputs, kwargs, out)
    if method == "__call__" and not kwargs:
        if name in _UFUNCS:
            return _UFUNCS[name](*inputs)
        if name in ("sin", "cos"):
            from minigrad.ops import special as trig

            return getattr(trig, name)(*inputs)
        if name in _COMPARISONS:
            return Tensor._constant(np.asarray(function(*_values(inputs))))
    return _on_values(name if method == "__call__" else f"{name}.{method}", getattr(function, method), inputs, kwargs)


def _into_array(function, method: str, inputs: tuple, kwargs: dict, out: tuple):
    name = function.__name__
    if method != "__call__" or len(out) != 1 or not isinstance(out[0], np.ndarray):
        raise TypeError(f"numpy.{name}: out= must be one ndarray when minigrad tensors are operands")
    if _recorded(inputs, kwargs):
        raise TypeError(
            f"numpy.{name}: writing into an ndarray would drop the gradient of an operand that "
            f"requires grad; compute with tensors (x = x - y) or under minigrad.no_grad()."
        )
    target = out[0]
    if target.flags.writeable:
        return function(*_values(inputs), out=target, **kwargs)
    owner = view_owner(target)
    if owner is None or not (owner._data is target.base or owner._data is target):
        raise ValueError(f"numpy.{name}: the output array is read-only")
    result = np.asarray(function(*_values(inputs), **kwargs))
    if result.shape != owner.shape:
        raise ValueError(
            f"numpy.{name}: the in-place result has shape {result.shape}, not the tensor's {owner.shape}"
        )
    owner.data = result.astype(owner.dtype, copy=False)
    return owner.data


def _reduction(method: str, allowed=("axis", "keepdims")):
    def run(a, *args, **kwargs):
        kept = _plain(method, kwargs, allowed)
        if args:
            kept.update(zip(allowed, args))
        if "ddof" in allowed:  # np.var and np.std mean NumPy's ddof=0 when none is given
            kept.setdefault("ddof", 0)
        return getattr(lift(a), method)(**kept)

    return run


_FUNCTIONS = {
    "sum": _reduction("sum"), "mean": _reduction("mean"), "max": _reduction("max"),
    "amax": _reduction("max"), "min": _reduction("min"), "amin": _reduction("min"),
    "prod": _reduction("prod"), "var": _reduction("var", ("axis", "keepdims", "ddof")),
    "std": _reduction("std", ("axis", "keepdims", "ddof")),
    "argmax": lambda a, axis=None, out=None, keepdims=False: functional.argmax(a, axis=axis, keepdims=keepdims)
    if out is None else _plain("argmax", {"out": out}, ()),
    "argmin": lambda a, axis=None, out=None, keepdims=False: functional.argmin(a, axis=axis, keepdims=keepdims)
    if out is None else _plain("argmin", {"out": out}, ()),
    "reshape": lambda a, *shape, **kw: ops.reshape(a, *(shape or (kw.get("shape", kw.get("newshape")),))),
    "transpose": lambda a, axes=None: ops.transpose(a, axes),
    "swapaxes": lambda a, axis1, axis2: ops.swapaxes(a, axis1, axis2),
    "concatenate": lambda arrays, axis=0, **kw: ops.concatenate(list(arrays), axis),
    "stack": lambda arrays, axis=0, **kw: ops.stack(list(arrays), axis),
    "broadcast_to": lambda a, shape, **kw: ops.broadcast_to(a, shape),
    "where": lambda condition, x, y: ops.where(condition, x, y),
    "clip": lambda a, a_min=None, a_max=None, **kw: functional.clamp(a, a_min, a_max),
    "squeeze": lambda a, axis=None: functional.squeeze(a, axis),
    "expand_dims": lambda a, axis: functional.unsqueeze(a, axis),
    "shape": lambda a: lift(a).shape, "ndim": lambda a: lift(a).ndim,
    "size": lambda a, axis=None: int(lift(a).numel() if axis is None else lift(a).shape[axis]),
    "dot": lambda a, b, out=None: ops.matmul(a, b) if out is None else _plain("dot", {"out": out}, ()),
}


def function(func, args: tuple, kwargs: dict):
    """A NumPy function with a tensor among its arguments (see the module docstring)."""
    handler = _FUNCTIONS.get(func.__name__)
    if handler is not None and getattr(func, "__module__", "").startswith("numpy") and "linalg" not in func.__module__:
        return handler(*args, **kwargs)
    return _on_values(func.__name__, func, args, kwargs)
