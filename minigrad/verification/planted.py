"""Planted bugs: a primitive's VJP spoiled on purpose, to show that the checks bite.

``planted_bug("mul", "sign")`` negates the gradients the VJP of ``mul`` returns, inside a
``with`` block, and restores it afterwards. ``minigrad check`` plants one for a whole run
when ``MINIGRAD_PLANT_BUG=<op>[:<kind>]`` is set, and must then exit 1.
"""
from __future__ import annotations

import contextlib

__all__ = ["PLANT_KINDS", "planted_bug", "parse_plant"]

#: the kinds of planted bug ``MINIGRAD_PLANT_BUG=<op>:<kind>`` knows
PLANT_KINDS = ("double", "sign", "zero", "transpose")


@contextlib.contextmanager
def planted_bug(op_name: str, kind: str = "double", target: str = "both"):
    """Spoil primitive ``op_name``'s VJP inside the block (restored afterwards).

    Kinds: double (every gradient times 2), sign (negated), zero (all zeros), transpose
    (last two axes swapped when square; otherwise reversed along the last axis).
    ``target`` says which VJP is spoiled: "vjp" (the tensor formula), "fast_vjp" (the
    array-level one, for ops that have it) or "both".
    """
    from minigrad.ops import REGISTRY, mul, neg, swapaxes, getitem

    if op_name not in REGISTRY:
        raise KeyError(f"planted_bug: no primitive named {op_name!r}; known: {', '.join(sorted(REGISTRY))}")
    if kind not in PLANT_KINDS:
        raise ValueError(f"planted_bug: kind must be one of {', '.join(PLANT_KINDS)}, got {kind!r}")
    if target not in ("vjp", "fast_vjp", "both"):
        raise ValueError(f"planted_bug: target must be 'vjp', 'fast_vjp' or 'both', got {target!r}")
    op = REGISTRY[op_name]
    if target == "fast_vjp" and op.fast_vjp is None:
        raise ValueError(f"planted_bug: primitive {op_name!r} has no fast_vjp to spoil")

    def spoil(g):
        if g is None:
            return None
        if kind == "double":
            return mul(g, 2.0)
        if kind == "sign":
            return neg(g)
        if kind == "zero":
            return mul(g, 0.0)
        if g.ndim >= 2 and g.shape[-1] == g.shape[-2]:
            return swapaxes(g, -1, -2)
        return getitem(g, (Ellipsis, slice(None, None, -1))) if g.ndim else mul(g, 2.0)

    names = ("vjp", "fast_vjp") if target == "both" else (target,)
    names = tuple(n for n in names if getattr(op, n) is not None)
    saved = {n: op.__dict__[n] for n in names if n in op.__dict__}

    def spoiled(original):
        def wrong_vjp(ctx, grad):
            return tuple(spoil(g) for g in original(ctx, grad))

        return staticmethod(wrong_vjp)

    for n in names:
        setattr(op, n, spoiled(getattr(op, n)))
    try:
        yield op
    finally:
        for n in names:
            if n in saved:
                setattr(op, n, saved[n])
            else:
                delattr(op, n)


def parse_plant(value: str) -> tuple:
    """"mul:sign" -> ("mul", "sign"); the kind defaults to "double"."""
    name, _, kind = value.partition(":")
    return name.strip(), (kind.strip() or "double")

