"""Hypothesis strategies for minigrad: shapes, broadcastable pairs, and random expression graphs.

A random graph is described by data (a seed, a shape and a list of op choices) rather than by
hypothesis-generated floats, so that the values are generic: no adversarial point sits on a
kink of abs/maximum within a finite-difference step. ``build`` turns the description into a
function of the input tensors, which the property tests differentiate and compare.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
import norms
from minigrad.nn import functional as F

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def broadcastable_pairs(draw):
    """Two shapes that broadcast together: drop leading axes and set some axes to 1."""
    full = draw(st.lists(st.integers(2, 4), min_size=1, max_size=3).map(tuple))
    pair = []
    for _ in range(2):
        drop = draw(st.integers(0, len(full)))
        kept = list(full[drop:])
        ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
        pair.append(tuple(1 if one else size for one, size in zip(ones, kept)))
    return tuple(pair)


# Each op takes the pool of (m, n) tensors built so far and returns a new (m, n) tensor.
# Together they touch every primitive of the engine at least once.
def _pick(pool, index):
    return pool[index % len(pool)]


OPS = {
    "tanh": lambda p, i, j: mg.tanh(_pick(p, i)),
    "exp_tanh": lambda p, i, j: mg.exp(mg.tanh(_pick(p, i))),
    "sqrt_positive": lambda p, i, j: mg.sqrt(_pick(p, i) * _pick(p, i) + 1.0),
    "log_positive": lambda p, i, j: mg.log(_pick(p, i) * _pick(p, i) + 0.5),
    "cube": lambda p, i, j: _pick(p, i) ** 3,
    "pow_tensor": lambda p, i, j: (_pick(p, i) * _pick(p, i) + 1.0) ** mg.tanh(_pick(p, j)),
    "neg_abs": lambda p, i, j: -mg.abs(_pick(p, i) + 3.0),
    "add": lambda p, i, j: _pick(p, i) + _pick(p, j),
    "sub": lambda p, i, j: _pick(p, i) - _pick(p, j),
    "mul": lambda p, i, j: _pick(p, i) * _pick(p, j),
    "div": lambda p, i, j: _pick(p, i) / (_pick(p, j) * _pick(p, j) + 1.0),
    "maximum": lambda p, i, j: mg.maximum(_pick(p, i), _pick(p, j) + 0.25),
    "broadcast_row": lambda p, i, j: _pick(p, i) * mg.mean(_pick(p, j), axis=0),
    "broadcast_column": lambda p, i, j: _pick(p, i) + _pick(p, j).sum(axis=1, keepdims=True),
    "broadcast_scalar": lambda p, i, j: _pick(p, i) * mg.tanh(_pick(p, j).sum()),
    "entry_times_all": lambda p, i, j: _pick(p, j)[-1, -1] * _pick(p, i),
    "number_over_tensor": lambda p, i, j: 0.1 / (_pick(p, i) * _pick(p, i) + 1.0) - 0.2 * _pick(p, j),
    "max_rows": lambda p, i, j: _pick(p, i) - _pick(p, j).max(axis=1, keepdims=True),
    "transpose_twice": lambda p, i, j: _pick(p, i).T.T * 1.5,
    "reshape_round_trip": lambda p, i, j: _pick(p, i).reshape(-1).reshape(_pick(p, i).shape) - 0.5,
    "matmul": lambda p, i, j: (_pick(p, i) @ _pick(p, j).T) @ _pick(p, i) * 0.3,
    "log_softmax": lambda p, i, j: F.log_softmax(_pick(p, i), axis=1),
    "concat_rows": lambda p, i, j: mg.concatenate([_pick(p, i)[:1], _pick(p, j)[1:]], axis=0),
    "stack_sum": lambda p, i, j: mg.stack([_pick(p, i), _pick(p, j)], axis=0).sum(axis=0),
    "gather_rows": lambda p, i, j: _pick(p, i)[np.arange(_pick(p, i).shape[0])[::-1]],
    "where": lambda p, i, j: mg.where(np.indices(_pick(p, i).shape).sum(axis=0) % 2 == 0, _pick(p, i), _pick(p, j)),
    "linear": lambda p, i, j: F.linear(_pick(p, i), _pick(p, j).T @ _pick(p, j) * 0.2, _pick(p, i)[0]),
    "sigmoid": lambda p, i, j: F.sigmoid(_pick(p, i)),
    # the norms
    # Each norm sees its input plus a fixed ramp: a norm of a (mathematically) constant
    # input divides rounding noise by sqrt(eps), which finite differences would then read
    # as a gradient (e.g. a batch-normed column always sums to exactly 0).
    "normalize_rows": lambda p, i, j: norms.normalize(_ramped(_pick(p, i)), axis=1),
    "frobenius_scale": lambda p, i, j: _pick(p, i) * norms.frobenius_norm(_pick(p, j)),
    "vector_p3": lambda p, i, j: _pick(p, i) * norms.vector_norm(_pick(p, j), 3, axis=0),
    "vector_inf": lambda p, i, j: _pick(p, i) - norms.vector_norm(_pick(p, j), np.inf, axis=1, keepdims=True),
    "nuclear": lambda p, i, j: _pick(p, i) * norms.matrix_norm(_pick(p, j), "nuc") * 0.1,
    "spectral_2": lambda p, i, j: _pick(p, i) / (norms.matrix_norm(_pick(p, j), 2) + 0.5),
    "spectral_normalize": lambda p, i, j: norms.spectral_normalize(_pick(p, i) + 2.0, *_unit_pair(_pick(p, i))),
    "weight_normalize": lambda p, i, j: norms.weight_normalize(_pick(p, i)[:, :1], _pick(p, j) + 1.0, dim=0),
    "layer_norm": lambda p, i, j: norms.layer_norm(_ramped(_pick(p, i)), (_pick(p, i).shape[1],)),
    "rms_norm": lambda p, i, j: norms.rms_norm(_ramped(_pick(p, i)), (_pick(p, i).shape[1],), eps=1e-3),
    "batch_norm": lambda p, i, j: norms.batch_norm(_ramped(_pick(p, i)), training=True),
    "pixel_norm": lambda p, i, j: norms.pixel_norm(_ramped(_pick(p, i)), axis=0),
}


def _ramped(tensor):
    """tensor + 0.37 * (0, 1, 2, ...): no row, column or whole tensor is constant."""
    ramp = (np.arange(tensor.size).reshape(tensor.shape) * 0.37).astype(tensor.dtype)
    return tensor + ramp


def _unit_pair(like):
    """Constant unit vectors u (rows) and v (columns), in the dtype of ``like``."""
    rows, columns = like.shape
    u = np.full(rows, 1 / np.sqrt(rows)).astype(like.dtype)
    v = np.full(columns, 1 / np.sqrt(columns)).astype(like.dtype)
    return mg.tensor(u), mg.tensor(v)


@st.composite
def expression_graphs(draw, max_depth: int = 8):
    """A random graph: (seed, shape, number of inputs, [(op name, i, j), ...])."""
    m = draw(st.integers(2, 4))
    n = draw(st.integers(2, 4))
    inputs = draw(st.integers(1, 3))
    depth = draw(st.integers(1, max_depth))
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 50), st.integers(0, 50)),
            min_size=depth, max_size=depth,
        )
    )
    seed = draw(st.integers(0, 2**31 - 1))
    return seed, (m, n), inputs, steps


def build(description):
    """The inputs (float64 arrays) and the function of input tensors that a description names."""
    seed, shape, count, steps = description
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for _ in range(count)]
    readout = rng.standard_normal(shape)

    def fn(*tensors):
        pool = list(tensors)
        for name, i, j in steps:
            pool.append(OPS[name](pool, i, j))
        return (pool[-1] * readout.astype(tensors[0].dtype)).sum()

    return arrays, fn
