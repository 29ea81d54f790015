"""Names, roles and gradients of the tensors drawn.

A tensor's role decides its colour: parameter, input (a named leaf such as the batch x, or
one that requires grad), constant (an unnamed leaf), buffer, output, intermediate. Names
come from the tensor itself or from ``params`` (a dict, or a Module's parameters, buffers
and the weights its parametrizations set).
"""
from __future__ import annotations

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.graph import Graph, tensor_key
from minigrad.viz.views import find_parametrizations


def is_module(value) -> bool:
    """True for a Module (anything with named_parameters and named_modules)."""
    return hasattr(value, "named_parameters") and hasattr(value, "named_modules")


def names_from_params(params) -> tuple:
    """(names by id, parameter ids, buffer ids, module parametrizations) from ``params``.

    The parametrizations are the ``ParametrizationView``s the registered finders report for
    each submodule of a Module; a dict of tensors has none.
    """
    names: dict = {}
    parameters: set = set()
    buffers: set = set()
    parametrizations: list = []
    if params is None:
        return names, parameters, buffers, parametrizations
    if is_module(params):
        for name, tensor in params.named_parameters():
            names[id(tensor)] = name
            parameters.add(id(tensor))
        for name, tensor in params.named_buffers():
            names.setdefault(id(tensor), name)
            buffers.add(id(tensor))
        for prefix, module in params.named_modules():
            # Tensors a pre-hook set as plain attributes (a weight computed before forward).
            for attribute, value in vars(module).items():
                if isinstance(value, Tensor) and not attribute.startswith("_"):
                    names.setdefault(id(value), f"{prefix}.{attribute}" if prefix else attribute)
            parametrizations.extend(find_parametrizations(prefix, module))
        return names, parameters, buffers, parametrizations
    items = params.items() if isinstance(params, dict) else params
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"draw_graph: params[{name!r}] is a {type(tensor).__name__}, not a Tensor; pass "
                f"a dict of name -> Tensor, or a Module"
            )
        names[id(tensor)] = name
        (parameters if tensor.requires_grad else buffers).add(id(tensor))
    return names, parameters, buffers, parametrizations


def assign_roles(graph: Graph, outputs: list, names: dict, parameters: set, buffers: set) -> None:
    """Give every tensor vertex its name and its role (which sets its colour)."""
    from minigrad.nn.module import Parameter

    output_keys = {tensor_key(t) for t in outputs}
    for key, vertex in graph.vertices.items():
        if vertex.kind != "tensor":
            continue
        tensor = vertex.tensor
        vertex.name = tensor.name or names.get(id(tensor))
        if key in output_keys:
            vertex.role = "output"
        elif tensor._node is not None:
            vertex.role = "intermediate"
        elif id(tensor) in buffers:
            vertex.role = "buffer"
        elif id(tensor) in parameters or isinstance(tensor, Parameter):
            vertex.role = "parameter"
        elif tensor.requires_grad or tensor.name:
            # a leaf the user named (the batch x) is data fed in, whether or not it needs a gradient
            vertex.role = "input"
        else:
            vertex.role = "constant"


def attach_grads(graph: Graph, backward: bool) -> str | None:
    """Set each tensor vertex's gradient; return a note when intermediate ones are missing."""
    missing = False
    for vertex in graph.vertices.values():
        if vertex.kind != "tensor" or vertex.expanded:
            continue
        tensor = vertex.tensor
        if tensor.grad is not None:
            vertex.grad = tensor.grad.data
        elif vertex.node is not None:
            record = vertex.node.grad_record
            if isinstance(record, np.ndarray):
                vertex.grad = record
            elif record is None:
                missing = True
    if backward and missing:
        return ("gradients of intermediate tensors were not recorded: run backward() inside "
                "`with minigrad.autograd.record_grads(loss):`")
    return None
