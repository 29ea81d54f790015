"""minigrad's primitives: one registry, each op's forward and VJP side by side.

Importing this package registers every primitive. ``REGISTRY`` maps names to classes;
the registry-wide tests iterate over it, so a new primitive cannot escape the checks.
"""
from minigrad.ops.registry import REGISTRY, Primitive, apply, register, unregister
from minigrad.ops.elementwise import (
    abs_, add, div, exp, log, maximum, minimum, mul, neg, pow_, pow_scalar, sqrt, sub, tanh,
    unbroadcast, where,
)
from minigrad.ops.reduce import max_, min_, normalize_axis, sum_
from minigrad.ops.shape import (
    broadcast_to, concatenate, flatten, getitem, reshape, scatter_add, stack, swapaxes, transpose,
)
from minigrad.ops.linalg import matmul, svd, svdvals
from minigrad.ops.fused import log_softmax

__all__ = [
    "REGISTRY", "Primitive", "apply", "register", "unregister", "abs_", "add", "div", "exp",
    "log", "maximum", "minimum", "mul", "neg", "pow_", "pow_scalar", "sqrt", "sub", "tanh",
    "unbroadcast", "where", "max_", "min_", "normalize_axis", "sum_", "broadcast_to",
    "concatenate", "flatten", "getitem", "reshape", "scatter_add", "stack", "swapaxes",
    "transpose", "matmul", "svd", "svdvals", "log_softmax",
]
