"""The engine's promises: gradients, second derivatives, deep graphs, memory,
the symbolic world, and the errors a learner meets first."""
import gc
import os
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


# -- basic gradients and broadcasting -------------------------------------------------------
def test_broadcast_gradient_is_summed_to_input_shape():
    a = mg.randn(5, 4, 1, requires_grad=True)
    b = mg.randn(4, 3, requires_grad=True)
    (a * b).sum().backward()
    # d/da sum(a*b) = sum of b over the broadcast axis; d/db = sum of a over the leading axis
    np.testing.assert_allclose(a.grad.data, np.broadcast_to(b.data.sum(axis=1, keepdims=True), (5, 4, 1)))
    np.testing.assert_allclose(b.grad.data, np.broadcast_to(a.data.sum(axis=0), (4, 3)))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


def test_grad_accumulates_and_retain_graph_allows_second_backward():
    x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_only_inputs_that_need_grad_get_one():
    data = mg.randn(4, 3)
    weight = mg.randn(3, 2, requires_grad=True)
    out = data @ weight
    assert out.grad_fn.needs_input_grad == (False, True)
    out.sum().backward()
    assert data.grad is None
    np.testing.assert_allclose(weight.grad.data, data.data.T @ np.ones((4, 2)))


def test_grad_function_does_not_touch_dot_grad_and_reaches_non_leaves():
    x = mg.randn(3, requires_grad=True)
    h = mg.tanh(x)
    y = (h * h).sum()
    grad_h, grad_x = mg.grad(y, [h, x])
    assert x.grad is None
    np.testing.assert_allclose(grad_h.data, 2 * h.data)
    np.testing.assert_allclose(grad_x.data, 2 * h.data * (1 - h.data**2))


def test_unused_input_needs_allow_unused():
    x = mg.randn(2, requires_grad=True)
    z = mg.randn(2, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="was not used"):
        mg.grad(y, [x, z], retain_graph=True)
    gx, gz = mg.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.data, [2.0, 2.0])


def test_no_grad_and_detach_build_no_graph():
    x = mg.randn(3, requires_grad=True)
    with mg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert x.detach().grad_fn is None and not x.detach().requires_grad

    @mg.no_grad()
    def f(t):
        return t * t

    assert not f(x).requires_grad
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 1).requires_grad


def test_float32_stays_float32_end_to_end():
    layer = nn.Linear(4, 3, dtype=np.float32)
    x = mg.randn(5, 4, dtype=np.float32)
    loss = F.cross_entropy(mg.tanh(layer(x)) * 0.5 + 1.0, np.array([0, 1, 2, 0, 1]))
    assert loss.dtype == np.float32
    loss.backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


# -- second derivatives ----------------------------------------------------------------------
def test_hessian_vector_product_matches_analytic_hessian():
    # f(x) = sum(x^3) + (x0 * x1)^2 ; H = diag(6x) + the cross term's Hessian
    x = mg.tensor([0.5, -1.5, 2.0], requires_grad=True)
    v = mg.tensor([1.0, 2.0, -0.5])
    f = (x**3).sum() + (x[0] * x[1]) ** 2
    (g,) = mg.grad(f, x, create_graph=True)
    (hv,) = mg.grad((g * v).sum(), x)
    x0, x1, _ = x.data
    hessian = np.diag(6 * x.data)
    hessian[0, 0] += 2 * x1**2
    hessian[1, 1] += 2 * x0**2
    hessian[0, 1] += 4 * x0 * x1
    hessian[1, 0] += 4 * x0 * x1
    np.testing.assert_allclose(hv.data, hessian @ v.data, rtol=1e-12)


def test_create_graph_through_tanh_softmax_and_linear():
    # Second derivative of a scalar through the fused ops, against central differences of the gradient.
    w = mg.randn(3, 4, requires_grad=True)
    x = mg.randn(2, 4)

    def gradient(weights):
        out = F.cross_entropy(mg.tanh(F.linear(x, weights)), np.array([0, 2]))
        (g,) = mg.grad(out, weights, create_graph=True)
        return g

    v = mg.randn(3, 4)
    (hv,) = mg.grad((gradient(w) * v).sum(), w)
    eps = 1e-5
    plus = gradient(mg.tensor(w.data + eps * v.data, requires_grad=True)).data
    minus = gradient(mg.tensor(w.data - eps * v.data, requires_grad=True)).data
    np.testing.assert_allclose(hv.data, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-9)


# -- deep graphs and memory --------------------------------------------------------------------
def test_million_op_chain_backpropagates_without_recursion_error():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])
    np.testing.assert_allclose(y.data, x.data + 1.0, rtol=1e-9)


def test_training_steps_do_not_grow_memory():
    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 128), nn.Tanh(), nn.Linear(128, 10))
    optimizer = mg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = mg.randn(16, 784)  # a small batch keeps 1,100 traced steps quick; the graph is the same
    target = np.arange(16) % 10

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    for _ in range(100):
        step()
    gc.collect()
    baseline, _ = tracemalloc.get_traced_memory()
    for _ in range(1000):
        step()
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The graph is released every step: after 1000 more steps memory has not grown
    # beyond a small constant (nothing per step accumulates).
    assert current - baseline < 64 * 1024, (baseline, current)


def test_graph_is_freed_by_reference_counting_alone():
    import weakref

    x = mg.randn(3, requires_grad=True)
    y = mg.tanh(x * 2).sum()
    node_ref = weakref.ref(y.grad_fn)
    gc.disable()
    try:
        del y
        assert node_ref() is None  # no reference cycles: no garbage collector needed
    finally:
        gc.enable()


def test_freed_graph_keeps_its_links_for_drawing():
    x = mg.randn(3, requires_grad=True)
    y = mg.exp(x).sum()
    y.backward()
    assert y.grad_fn.freed
    assert y.grad_fn.parents[0].grad_fn.op.name == "exp"


# -- the symbolic world -----------------------------------------------------------------------
def test_symbolic_gradient_equals_sympy_diff():
    import sympy

    a = mg.symbols("a", (2, 2))
    b = mg.symbols("b", (2,))
    out = (mg.tanh(a @ b) * mg.exp(b) / (1 + a[0, 0] ** 2)).sum() + mg.log(b[0] ** 2 + 1)
    out.backward()
    expr = out.item()
    for tensor in (a, b):
        for index in np.ndindex(*tensor.shape):
            symbol = tensor.data[index]
            assert sympy.simplify(tensor.grad.data[index] - sympy.diff(expr, symbol)) == 0


def test_symbolic_reductions_stay_zero_d_arrays():
    a = mg.symbols("a", (3,))
    total = a.sum()
    assert isinstance(total.data, np.ndarray) and total.data.shape == () and total.dtype == object
    total.backward()
    assert a.grad.data.dtype == object and a.grad.shape == (3,)
    assert all(entry == 1 for entry in a.grad.data)


# -- errors a learner meets first -----------------------------------------------------------------
def test_matmul_shape_error_shows_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned"):
        mg.randn(3, 4) @ mg.randn(5, 2)


def test_backward_of_non_scalar_needs_gradient():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs; this output has shape \(3,\)"):
        (x * 2).backward()
    y = x * 2
    y.backward(gradient=mg.ones(3))
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0, 2.0])


def test_second_backward_without_retain_graph_says_what_to_do():
    x = mg.randn(3, requires_grad=True)
    y = mg.exp(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point .* dtype int64"):
        mg.tensor([1, 2, 3], requires_grad=True)
    assert mg.tensor([1, 2, 3]).dtype == np.int64


def test_svd_on_symbolic_data_is_a_clear_error():
    with pytest.raises(TypeError, match="svdvals: has no symbolic form"):
        mg.svdvals(mg.symbols("w", (2, 2)))


def test_inplace_change_of_saved_input_is_caught_at_backward():
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3)
    y = (x * w).sum()
    w += 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation: input 1 of op 'mul'"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_is_refused_outside_no_grad():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place change of a leaf tensor that requires grad"):
        x += 1
    with mg.no_grad():
        x += 1  # what optimisers do


def test_vjp_returning_wrong_shape_is_caught():
    from minigrad.ops.registry import Primitive, apply, register, unregister

    @register
    class BadShape(Primitive):
        name = "test_bad_shape"

        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def vjp(ctx, grad):
            return (grad.sum(),)

    try:
        x = mg.randn(3, requires_grad=True)
        message = r"test_bad_shape: the VJP returned a gradient of shape \(\) for an input of shape \(3,\)"
        with pytest.raises(RuntimeError, match=message):
            apply(BadShape, x).sum().backward()
    finally:
        unregister("test_bad_shape")


def test_missing_vjp_is_not_implemented_error():
    from minigrad.ops.registry import Primitive, apply, register, unregister

    @register
    class NoVjp(Primitive):
        name = "test_no_vjp"

        @staticmethod
        def forward(ctx, a):
            return a + 1

    try:
        x = mg.randn(2, requires_grad=True)
        with pytest.raises(NotImplementedError, match="test_no_vjp: no VJP"):
            apply(NoVjp, x).sum().backward()
    finally:
        unregister("test_no_vjp")


# -- tensor basics ----------------------------------------------------------------------------
def test_tensor_api_basics():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")
    assert t.shape == (2, 2) and t.ndim == 2 and t.size == 4 and t.dtype == np.float64
    # NumPy sees the tensor's memory without a copy, read-only while the tensor requires grad
    assert np.shares_memory(np.asarray(t), t.data) and np.array_equal(np.asarray(t), [[1, 2], [3, 4]])
    assert not np.asarray(t).flags.writeable and not t.data.flags.writeable
    assert np.asarray(t.detach().clone()).flags.writeable
    assert t.T.shape == (2, 2) and t.T.data[0, 1] == 3.0
    assert t[1, 0].item() == 3.0
    assert t[[1, 0]].data.tolist() == [[3.0, 4.0], [1.0, 2.0]]
    assert repr(t) == "tensor([[1., 2.],\n        [3., 4.]], name='W', requires_grad=True)"
    assert (t > 2).data.tolist() == [[False, False], [True, True]]
    assert (2 - t).data.tolist() == [[1.0, 0.0], [-1.0, -2.0]]
    assert (2 / t).data[0, 1] == 1.0 and (2**t).data[0, 0] == 2.0
    assert (-t).data[0, 0] == -1.0
    assert mg.arange(3).data.tolist() == [0, 1, 2] and mg.eye(2).data.tolist() == [[1, 0], [0, 1]]
    assert mg.full((2,), 7.0).data.tolist() == [7.0, 7.0]
    assert mg.zeros_like(t).shape == (2, 2) and mg.ones(3).data.sum() == 3


def test_manual_seed_makes_draws_reproducible():
    mg.manual_seed(42)
    first = mg.randn(3).data.copy(), nn.Linear(2, 2).weight.data.copy()
    mg.manual_seed(42)
    second = mg.randn(3).data, nn.Linear(2, 2).weight.data
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_shared_gradient_arrays_are_never_added_into_in_place():
    # s collects two contributions (an array backward allocates), then add's VJP hands that
    # one array to both p and q. r's later contribution to p must not leak into q, as an
    # in-place add into the shared array would make it.
    c = mg.tensor([1.0, 2.0], requires_grad=True)
    p = c * 2.0
    q = c * 3.0
    r = p * 1.0
    s = p + q
    (s * 1.0 + s * 1.0 + r).sum().backward()
    # dy/dp = 2 + 1, dy/dq = 2, so dy/dc = 3 * 2 + 2 * 3
    np.testing.assert_allclose(c.grad.data, [12.0, 12.0])


def test_leaf_gradients_never_share_memory_with_each_other_or_the_seed():
    # add's VJP hands one array to both inputs, reshape's VJP a view of it, and the seed
    # gradient is the caller's array: changing one .grad in place must change nothing else.
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = mg.tensor(np.ones((2, 3)), requires_grad=True)
    c = mg.tensor(np.ones(6), requires_grad=True)
    seed = np.arange(6.0).reshape(2, 3)
    (a + b + c.reshape(2, 3)).backward(seed)
    grads = [a.grad.data, b.grad.data, c.grad.data]
    for i, first in enumerate(grads):
        assert not np.shares_memory(first, seed)
        for second in grads[i + 1:]:
            assert not np.shares_memory(first, second)
    a.grad.data[...] = -1.0
    np.testing.assert_array_equal(b.grad.data, seed)
    np.testing.assert_array_equal(c.grad.data, seed.ravel())
    np.testing.assert_array_equal(seed, np.arange(6.0).reshape(2, 3))


def test_leaf_gradients_are_writable_arrays_of_their_own():
    # sum's VJP gives a read-only broadcast view, and a scalar output is seeded with a
    # shared read-only 1: neither may end up as a .grad that cannot be changed in place.
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = mg.tensor(2.0, requires_grad=True)
    (x.sum() + b).backward()
    for leaf in (x, b):
        assert leaf.grad.data.flags.writeable
        leaf.grad.data[...] *= 3.0
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 3.0))
    assert b.grad.item() == 3.0
    c = mg.tensor(5.0, requires_grad=True)
    (c + 0.0).backward()  # the seed would reach c unchanged
    assert c.grad.item() == 1.0 and c.grad.data.flags.writeable


def test_nodes_built_by_the_hot_path_have_every_field_set():
    # apply() fills nodes in without Node.__init__ (for speed): every slot must still be set.
    from minigrad.autograd import Node

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor([3.0, 4.0], requires_grad=True)
    # apply (one, three inputs), apply_binary (the operators, with a cached number and a tensor)
    built = [(x * 2.0)._node, mg.tanh(x)._node, mg.stack([x, x, x])._node, (x / y)._node,
             mg.sub(x, 1.5)._node]
    reference = Node(built[0].op, built[0].parents, {}, (True, True))
    for node in built + [reference]:
        for field in Node.__slots__:
            if field != "__weakref__":
                getattr(node, field)  # raises AttributeError if apply forgot one
        assert node.extras is None and node.retained is None and node.trace is None
    assert [n.seq for n in built] == sorted(n.seq for n in built)
    assert [n.op.name for n in built] == ["mul", "tanh", "stack", "div", "sub"]
    assert [n.needs_input_grad for n in built[3:]] == [(True, True), (True, False)]
    # the operators' nodes share one empty attrs mapping, which cannot be written to
    assert dict(built[3].attrs) == {} and built[3].attrs is built[4].attrs
    with pytest.raises(TypeError):
        built[3].attrs["axis"] = 0


def test_operators_take_a_number_in_the_tensors_dtype_and_anything_else_through_lift():
    x32 = mg.tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert (x32 * 0.5).dtype == np.float32 and (x32 + 1.5).dtype == np.float32
    assert (x32 - 2).dtype == np.float32 and (x32 / True).dtype == np.float32
    np.testing.assert_array_equal((mg.tensor([1, 2]) * 0.5).data, [0.5, 1.0])
    np.testing.assert_array_equal((mg.tensor([1.0, 2.0]) + [10.0, 20.0]).data, [11.0, 22.0])
    assert mg.Tensor.__mul__.__name__ == "__mul__" and "mul" in mg.Tensor.__mul__.__doc__
    with pytest.raises(TypeError):
        mg.tensor([1.0]) * "a"


def test_backward_visits_a_node_only_after_all_its_consumers():
    # A diamond whose branches have very different lengths: the short branch's gradient
    # reaches the shared node first, and the long one's must still be added before its VJP.
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    shared = mg.tanh(x)
    long_branch = shared
    for _ in range(50):
        long_branch = long_branch * 1.01
    y = (shared * 3.0 + long_branch).sum()
    y.backward()
    slope = 1 - np.tanh(x.data) ** 2
    np.testing.assert_allclose(x.grad.data, slope * (3.0 + 1.01 ** 50), rtol=1e-13)


# -- NumPy's warnings from a package built on minigrad --------------------------------------
_LIBRARY = '''
import numpy as np
from minigrad.ops import Primitive, apply, register


@register
class Ln(Primitive):
    name = "mylib_ln"

    @staticmethod
    def forward(ctx, a):
        return np.log(a)


def ln(x):
    return apply(Ln, x)
'''


def _warnings_of(tmp_path, script: str) -> list:
    import subprocess
    import sys
    import textwrap

    (tmp_path / "mylib").mkdir(exist_ok=True)
    (tmp_path / "mylib" / "__init__.py").write_text(_LIBRARY)
    done = subprocess.run([sys.executable, "-W", "default", "-c", textwrap.dedent(script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()


def test_a_package_that_asks_has_its_ops_warnings_restated_at_the_users_line(tmp_path):
    lines = _warnings_of(tmp_path, """
        import os, minigrad as mg, mylib
        mg.numeric_warnings.restate_warnings_from(os.path.dirname(mylib.__file__))
        mylib.ln(mg.tensor([0.0, 2.0]))
    """)
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "<string>:4: RuntimeWarning: mylib_ln: divide by zero encountered in log (input shape (2,)); "
        "the result holds inf or nan. numpy.errstate(divide='ignore') around the call silences it.")


def test_a_package_that_does_not_ask_keeps_numpys_own_warning(tmp_path):
    lines = _warnings_of(tmp_path, """
        import minigrad as mg, mylib
        mylib.ln(mg.tensor([0.0, 2.0]))
    """)
    assert lines[0].endswith("RuntimeWarning: divide by zero encountered in log"), lines
    assert lines[0].startswith(str(tmp_path / "mylib" / "__init__.py") + ":12:"), lines
    assert "mylib_ln" not in "\n".join(lines)


def test_restate_warnings_from_refuses_what_is_not_a_folder_and_adds_a_folder_once(tmp_path):
    from minigrad import numeric_warnings

    before = numeric_warnings._PACKAGES
    with pytest.raises(ValueError, match=r"restate_warnings_from: '.*nowhere' is not a folder; pass the package's"):
        numeric_warnings.restate_warnings_from(str(tmp_path / "nowhere"))
    numeric_warnings.restate_warnings_from(os.path.dirname(mg.__file__))  # minigrad's own: already there
    assert numeric_warnings._PACKAGES == before
