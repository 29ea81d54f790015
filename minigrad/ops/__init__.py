"""minigrad's primitives: one registry, each op's forward and VJP side by side.

Importing this package registers every primitive. ``REGISTRY`` maps names to classes;
the registry-wide tests iterate over it, so a new primitive cannot escape the checks.

The modules import one another in one direction, from the bottom up:

    registry      Primitive, register, apply (no op module)
    elementwise   arithmetic, powers, exp, log, sqrt, abs, tanh, maximum, where, and
                  ``unbroadcast``: the broadcast rule every binary VJP applies
    shape         reshape, transpose, broadcast_to, indexing, concatenate, stack
    reduce        sum and max (their VJPs broadcast back with shape's primitives)
    linalg        matmul and the SVD (VJPs built from elementwise and shape ops)
    fused         log_softmax, linear, cross_entropy (VJPs from all of the above)
    special       sin, cos, erf            conv    the three convolutions
    cast          a change of float dtype (``Tensor.astype``)

Each module imports the ops its VJPs use, by name, at its top, from the modules below
it. Should a VJP ever need an op of a module above its own (two modules whose VJPs use
each other's ops), that module imports the other *module* at its top
(``from minigrad.ops import elementwise``) and the VJP calls ``elementwise.mul(...)``:
Python hands out a module that is still loading, and the name is looked up only when
the VJP runs. That lookup costs once per node in a backward pass; forwards and the
public op functions (``mul``, ``add``, ...) only ever call names bound at import.
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
from minigrad.ops.special import cos, erf, sin
from minigrad.ops.conv import conv1d, conv2d, conv_transpose2d
from minigrad.ops.cast import Cast

__all__ = [
    "REGISTRY", "Primitive", "apply", "Cast", "register", "unregister", "abs_", "add", "div", "exp",
    "log", "maximum", "minimum", "mul", "neg", "pow_", "pow_scalar", "sqrt", "sub", "tanh",
    "unbroadcast", "where", "max_", "min_", "normalize_axis", "sum_", "broadcast_to",
    "concatenate", "flatten", "getitem", "reshape", "scatter_add", "stack", "swapaxes",
    "transpose", "matmul", "svd", "svdvals", "log_softmax", "cos", "erf", "sin", "conv1d",
    "conv2d", "conv_transpose2d",
]
