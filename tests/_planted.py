"""Deliberately wrong VJPs for the checker tests: each is the mistake students make most.

Each planted primitive is registered only inside the ``planted`` context manager (and
unregistered after), so the registry-wide tests never see them. ``PLANTED`` maps a kind to
(primitive class, input shapes, domain, the input whose gradient is wrong, words the hint
must contain).
"""
from __future__ import annotations

import contextlib

import numpy as np

from minigrad.ops import REGISTRY, apply, getitem, matmul, mul, transpose, unbroadcast
from minigrad.ops.registry import Primitive, register, unregister


class ForgetsUnbroadcast(Primitive):
    """a + b whose VJP hands b the output's shape: the engine itself rejects it (wrong shape).

    Not a planted registry entry: used directly with ``apply`` by the tests that check how
    a backward pass that raises is reported.
    """

    name = "forgets_unbroadcast"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def vjp(ctx, grad):
        return grad, grad  # b was broadcast: its gradient must be summed back to its shape


class PlantedTransposed(Primitive):
    """a @ b with grad_a returned transposed: (g @ b^T)^T (square inputs hide the shape error)."""

    name = "planted_transposed"
    examples = [(((3, 3), (3, 3)), {})]

    @staticmethod
    def forward(ctx, a, b):
        return a @ b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        return transpose(matmul(grad, transpose(b, (1, 0))), (1, 0)), matmul(transpose(a, (1, 0)), grad)


class PlantedBroadcast(Primitive):
    """a + b with b of shape (1, n): grad_b keeps only the first row instead of summing rows."""

    name = "planted_broadcast"
    examples = [(((3, 4), (1, 4)), {})]

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        return unbroadcast(grad, a.shape), getitem(grad, (slice(0, 1),))


class PlantedDouble(Primitive):
    """a^2 with grad 4 a g: the factor 2 applied twice."""

    name = "planted_double"
    domain = "nonzero"
    examples = [(((2, 3),), {})]

    @staticmethod
    def forward(ctx, a):
        return a * a

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        return (mul(mul(grad, a), 4.0),)


class PlantedSign(Primitive):
    """a - b with grad_b = +g: the minus sign forgotten."""

    name = "planted_sign"
    examples = [(((2, 3), (2, 3)), {})]

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        return unbroadcast(grad, a.shape), unbroadcast(grad, b.shape)


PLANTED = {
    "transposed": (PlantedTransposed, [(3, 3), (3, 3)], "real", 0, "transposed"),
    "broadcast": (PlantedBroadcast, [(3, 4), (1, 4)], "real", 1, "broadcast"),
    "double": (PlantedDouble, [(2, 3)], "nonzero", 0, "factor of 2"),
    "sign": (PlantedSign, [(2, 3), (2, 3)], "real", 1, "sign is flipped"),
}


def function_of(op):
    """A plain function that applies the primitive (what a student would gradcheck)."""

    def call(*tensors):
        return apply(op, *tensors)

    call.__qualname__ = op.name
    return call


@contextlib.contextmanager
def planted(*ops):
    """Register test-only primitives for the duration of a block."""
    for op in ops:
        register(op)
    try:
        yield
    finally:
        for op in ops:
            unregister(op.name)
        assert not any(op.name in REGISTRY for op in ops)


def inputs_for(shapes, domain, seed=0):
    import minigrad as mg
    from minigrad.verification.domains import draw_inputs

    rng = np.random.default_rng(seed)
    return [mg.tensor(a, requires_grad=True) for a in draw_inputs(shapes, domain, rng)]
