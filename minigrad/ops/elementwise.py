"""Elementwise primitives: arithmetic, powers and the smooth and piecewise functions.

Binary ops broadcast like NumPy. Their VJPs return gradients in the *output's* shape and
let :func:`unbroadcast` sum them back to each input's shape: that is the one place the
broadcast rule lives.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.registry import Primitive, _as_array, apply, apply_binary, register
from minigrad.tensor import Tensor, lift

# Shapes every binary op is checked on: equal, scalar with matrix, and the broadcasting
# cases students get wrong ((1,4) with (3,1); (5,4,1) with (4,3)).
BINARY_SHAPES = [
    (((3, 4), (3, 4)), {}),
    (((), (3, 4)), {}),
    (((1, 4), (3, 1)), {}),
    (((5, 4, 1), (4, 3)), {}),
]
UNARY_SHAPES = [(((),), {}), (((5,),), {}), (((3, 4),), {})]
# (and both operands 0-d: where SymPy scalars and NumPy's bare scalars meet)
BINARY_SHAPES.append((((), ()), {}))


def _constant(array):
    return Tensor._constant(array)


def unbroadcast(grad, shape: tuple):
    """Sum a gradient of a broadcast result back to the shape of the input it came from.

    The broadcast rule, stated once: when NumPy broadcasts an input of shape ``shape`` to
    the output's shape, it (1) prepends axes until the ranks match, then (2) stretches
    every axis of length 1 to the output's length. Each output entry used the same input
    entry along a stretched axis, so the input's gradient is the *sum* of the output's
    gradient along (1) the prepended leading axes and (2) the axes that were 1.
    Written with the methods tensors and arrays share (``sum``, ``reshape``), so it works
    on tensors and on arrays alike: on tensors it is differentiable too; on the raw arrays of a
    backward pass that is not recorded it is plain NumPy.
    """
    grad_shape = grad.shape
    if grad_shape == shape:
        return grad
    extra = len(grad_shape) - len(shape)
    if extra < 0:
        raise RuntimeError(
            f"unbroadcast: gradient of shape {grad_shape} has fewer axes than the input shape "
            f"{shape}; a VJP returned the wrong shape."
        )
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad_shape[extra + i] != 1
    )
    reduced = grad.sum(axis=axes) if axes else grad
    return reduced.reshape(shape) if reduced.shape != shape else reduced


def _array_constant(value) -> Tensor:
    """A gradient computed by NumPy on raw arrays, as the constant tensor a VJP returns.

    (NumPy hands back scalars, and SymPy expressions on object arrays, where the engine
    keeps 0-d arrays.)
    """
    return _constant(value if type(value) is np.ndarray else _as_array(value))


def _array_gradient(product, shape: tuple) -> Tensor:
    """``_array_constant`` of a broadcast product, summed back to the input's ``shape``."""
    if type(product) is not np.ndarray:
        product = _as_array(product)
    if product.shape != shape:  # (a full sum comes back as a NumPy scalar: wrap it)
        return _array_constant(unbroadcast(product, shape))
    return Tensor._constant(product)  # (directly: one call less on the common path)


@register
class Add(Primitive):
    name = "add"
    formula = "d(a+b): grad_a = g, grad_b = g (each summed over its broadcast axes)"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        shape = grad._data.shape
        return (
            (grad if a._data.shape == shape else unbroadcast(grad, a.shape)) if need_a else None,
            (grad if b._data.shape == shape else unbroadcast(grad, b.shape)) if need_b else None,
        )


@register
class Sub(Primitive):
    name = "sub"
    formula = "d(a-b): grad_a = g, grad_b = -g"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(grad, a.shape) if need_a else None,
            unbroadcast(neg(grad), b.shape) if need_b else None,
        )


@register
class Mul(Primitive):
    name = "mul"
    formula = "d(a*b): grad_a = g*b, grad_b = g*a"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        return (
            unbroadcast(mul(grad, b), a.shape) if need_a else None,
            unbroadcast(mul(grad, a), b.shape) if need_b else None,
        )

    @staticmethod
    def fast_vjp(ctx, grad):
        # vjp's formula by NumPy on the float arrays (no node, no tensor per step).
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        g = grad._data
        return (
            _array_gradient(g * b._data, a._data.shape) if need_a else None,
            _array_gradient(g * a._data, b._data.shape) if need_b else None,
        )


@register
class Div(Primitive):
    name = "div"
    formula = "d(a/b): grad_a = g/b, grad_b = -g*a/b^2"
    domain = "nonzero"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        grad_over_b = div(grad, b)
        return (
            unbroadcast(grad_over_b, a.shape) if need_a else None,
            unbroadcast(neg(mul(grad_over_b, ctx.output)), b.shape) if need_b else None,
        )


@register
class Neg(Primitive):
    name = "neg"
    formula = "d(-a): grad_a = -g"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def vjp(ctx, grad):
        return (neg(grad),)


@register
class Pow(Primitive):
    """a ** b with a tensor exponent.

    grad_a = g * b * a^(b-1); grad_b = g * a^b * log(a), taken as 0 where a = 0 and b >= 0
    (the limit, and PyTorch's convention; a negative base gives NaN for grad_b, as there).
    """

    name = "pow"
    formula = "d(a^b): grad_a = g*b*a^(b-1), grad_b = g*a^b*log(a)"
    domain = "positive"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a**b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            zero_exponent = None
            if a.dtype != object:
                zero_exponent = np.broadcast_to(b._data == 0, grad.shape)
                if not (zero_exponent & np.broadcast_to(a._data == 0, grad.shape)).any():
                    zero_exponent = None
            if zero_exponent is None:
                term = mul(mul(grad, b), pow_(a, sub(b, _one_like(b))))
            else:
                # b * a^(b-1) is 0 where b = 0, also at a = 0 (PyTorch's convention; 0 * inf
                # would give NaN): the power is taken of 1 there, and the term set to 0, so
                # that its derivatives are 0 as well.
                term = mul(mul(grad, b), pow_(where(zero_exponent, _one_like(a), a), sub(b, _one_like(b))))
                term = where(zero_exponent, _constant(np.zeros((), dtype=term.dtype)), term)
            grad_a = unbroadcast(term, a.shape)
        if need_b:
            at_zero = None
            if a.dtype != object:
                at_zero = np.broadcast_to((a._data == 0) & (b._data >= 0), grad.shape)
            if at_zero is not None and at_zero.any():
                # log(a) is -inf there: take the log of 1 instead, then the limit 0 itself
                term = mul(mul(grad, ctx.output), log(where(at_zero, _one_like(a), a)))
                term = where(at_zero, _constant(np.zeros((), dtype=term.dtype)), term)
            else:
                term = mul(mul(grad, ctx.output), log(a))
            grad_b = unbroadcast(term, b.shape)
        return grad_a, grad_b


def _one_like(tensor):
    return lift(1, tensor)


@register
class PowScalar(Primitive):
    """a ** p for a constant number p: grad_a = g * p * a^(p-1)."""

    name = "pow_scalar"
    formula = "d(a^p): grad_a = g*p*a^(p-1)"
    domain = "positive"
    examples = [
        (((3, 4),), {"exponent": 3}),
        (((5,),), {"exponent": -1.5}),
        (((2, 3),), {"exponent": 0.5}),
        (((2, 2),), {"exponent": 2}),
        (((),), {"exponent": 3}),
    ]

    @staticmethod
    def forward(ctx, a, exponent):
        return a**exponent

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        exponent = ctx.attrs["exponent"]
        if exponent == 0:
            return (mul(grad, _constant(np.zeros((), dtype=grad.dtype if grad.dtype != object else int))),)
        if exponent == 2:  # the common square: avoid a^1 (an extra op and a copy)
            return (mul(grad, mul(a, _constant(np.asarray(2, dtype=_dtype(a))))),)
        scaled = pow_scalar(a, exponent - 1)
        return (mul(grad, mul(scaled, _constant(np.asarray(exponent, dtype=_dtype(a))))),)


def _dtype(tensor):
    return tensor.dtype if tensor.dtype != object else object


@register
class Exp(Primitive):
    name = "exp"
    formula = "d(exp a): grad_a = g*exp(a)"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.exp(a)

    @staticmethod
    def vjp(ctx, grad):
        return (mul(grad, ctx.output),)


@register
class Log(Primitive):
    name = "log"
    formula = "d(log a): grad_a = g/a"
    domain = "positive"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.log(a)

    @staticmethod
    def vjp(ctx, grad):
        return (div(grad, ctx.parents[0]),)


@register
class Sqrt(Primitive):
    name = "sqrt"
    formula = "d(sqrt a): grad_a = g/(2*sqrt(a))"
    domain = "positive"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.sqrt(a)

    @staticmethod
    def vjp(ctx, grad):
        out = ctx.output
        return (div(grad, add(out, out)),)


@register
class Abs(Primitive):
    """|a|; grad_a = g * sign(a), so 0 at a = 0 (the subgradient PyTorch picks)."""

    name = "abs"
    formula = "d|a|: grad_a = g*sign(a)"
    domain = "nonzero"
    smooth = True  # sign(a) is locally constant away from 0, so the second derivative is 0
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.abs(a)

    @staticmethod
    def vjp(ctx, grad):
        return (mul(grad, _constant(backend.sign(ctx.parents[0]._data))),)


@register
class Tanh(Primitive):
    name = "tanh"
    formula = "d(tanh a): grad_a = g*(1 - tanh(a)^2)"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.tanh(a)

    @staticmethod
    def vjp(ctx, grad):
        return (mul(grad, sub(1, mul(ctx.output, ctx.output))),)

    @staticmethod
    def fast_vjp(ctx, grad):
        out = ctx.out
        return (_array_constant(grad._data * (1 - out * out)),)


@register
class Maximum(Primitive):
    """Elementwise max; where a = b the gradient is split equally (as PyTorch does).

    On SymPy data the forward is ``Max(a, b)`` and a's weight is ``Heaviside(a - b, 1/2)``
    (1 for a > b, 1/2 at the tie, 0 below: the float world's convention, and the form
    ``sympy.diff(Max(a, b), a)`` takes, so the proof is immediate away from a = b).
    """

    name = "maximum"
    formula = "d max(a,b): grad_a = g*[a>b] + g/2*[a=b], grad_b = g*[b>a] + g/2*[a=b]"
    domain = "distinct"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        if a.dtype == object or b.dtype == object:
            return _symbolic_maximum(a, b)
        return np.maximum(a, b)

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        if grad.dtype == object:
            weight_a = np.broadcast_to(_symbolic_first_weight(a._data, b._data), grad.shape)
        else:
            weight_a = (a._data > b._data) + 0.5 * (a._data == b._data)
            weight_a = np.broadcast_to(weight_a, grad.shape).astype(grad.dtype)
        return (
            unbroadcast(mul(grad, _constant(weight_a)), a.shape) if need_a else None,
            unbroadcast(mul(grad, _array_constant(1 - weight_a)), b.shape) if need_b else None,
        )


def _symbolic_maximum(a, b):
    sp = backend.sympy()
    # (frompyfunc hands back a bare expression for 0-d operands)
    return np.asarray(np.frompyfunc(lambda x, y: sp.Max(x, y), 2, 1)(a, b), dtype=object)


def _symbolic_first_weight(a, b):
    """Heaviside(a - b, 1/2): 1, 1/2, 0 for a > b, a = b, a < b (maximum's weight of a)."""
    sp = backend.sympy()
    half = sp.Rational(1, 2)
    weight = np.frompyfunc(lambda x, y: sp.Heaviside(x - y, half), 2, 1)
    return np.asarray(weight(a, b), dtype=object)


@register
class Where(Primitive):
    """where(condition, a, b) for a constant boolean ``condition`` (no gradient for it)."""

    name = "where"
    formula = "grad_a = g*[cond], grad_b = g*[not cond]"
    examples = [
        (((3, 4), (3, 4)), {"condition": np.arange(12).reshape(3, 4) % 3 == 0}),
        (((1, 4), (3, 1)), {"condition": np.arange(12).reshape(3, 4) % 2 == 1}),
        (((), (2, 3)), {"condition": np.array([True, False, True])}),
    ]

    @staticmethod
    def forward(ctx, a, b, condition):
        return np.where(condition, a, b)

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        condition = ctx.attrs["condition"]
        zero = _constant(np.zeros((), dtype=grad.dtype if grad.dtype != object else int))
        return (
            unbroadcast(where(condition, grad, zero), a.shape) if need_a else None,
            unbroadcast(where(condition, zero, grad), b.shape) if need_b else None,
        )


# ---------------------------------------------------------------------------------------
# Functional entry points (minigrad.add(x, y) etc.); they accept tensors, arrays or numbers.
# ---------------------------------------------------------------------------------------
def add(a, b):
    return apply_binary(Add, a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def sub(a, b):
    return apply_binary(Sub, a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def mul(a, b):
    return apply_binary(Mul, a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def div(a, b):
    return apply_binary(Div, a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def neg(a):
    return apply(Neg, a if isinstance(a, Tensor) else lift(a))


def pow_(a, b):
    """a ** b; a number exponent uses the cheaper pow_scalar primitive."""
    if not isinstance(b, Tensor) and np.ndim(b) == 0 and not isinstance(b, np.ndarray):
        return pow_scalar(a, b)
    return apply(Pow, lift(a, b), lift(b, a))


def pow_scalar(a, exponent):
    return apply(PowScalar, lift(a), exponent=exponent)


def exp(a):
    return apply(Exp, a if isinstance(a, Tensor) else lift(a))


def log(a):
    return apply(Log, a if isinstance(a, Tensor) else lift(a))


def sqrt(a):
    return apply(Sqrt, a if isinstance(a, Tensor) else lift(a))


def abs_(a):
    return apply(Abs, a if isinstance(a, Tensor) else lift(a))


def tanh(a):
    return apply(Tanh, a if isinstance(a, Tensor) else lift(a))


def maximum(a, b):
    return apply(Maximum, a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def minimum(a, b):
    """Elementwise min, composed as -max(-a, -b)."""
    return neg(maximum(neg(lift(a, b)), neg(lift(b, a))))


def where(condition, a, b):
    """Pick ``a`` where ``condition`` holds, else ``b``; ``condition`` gets no gradient."""
    if isinstance(condition, Tensor):
        condition = condition.data
    condition = np.asarray(condition, dtype=bool)
    return apply(Where, lift(a, b), lift(b, a), condition=condition)
