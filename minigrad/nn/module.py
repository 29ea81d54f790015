"""Module and Parameter, with PyTorch's names and behaviour.

A Module owns parameters, buffers and child modules, found by attribute assignment; it
offers ``named_parameters``, ``state_dict``, hooks and train/eval mode. Parametrizations
such as spectral norm are built on the forward pre-hook, exactly as in PyTorch.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from minigrad.modes import bump_version
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module registers as a learnable parameter (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        data = np.array(data, copy=False) if isinstance(data, np.ndarray) else data
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_*_hook``; ``remove()`` takes the hook off again."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


def _check_name(name, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"register_{kind}: name must be a str, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"register_{kind}: name {name!r} must be non-empty and contain no '.'")


def _dtype_refusal(source: np.dtype, target: np.dtype) -> str:
    """Why an array of dtype ``source`` may not be loaded into a tensor of ``target`` ('' if it may)."""
    allowed = {"f": "fiu", "c": "fciu", "i": "iu", "u": "iu", "b": "b"}.get(target.kind, "")
    if source.kind in allowed:
        return ""
    if source.kind == "c" and target.kind == "f":
        return "a complex array would lose its imaginary part; load its .real explicitly if that is meant"
    if source.kind == "b":
        return "a bool array is a mask, not numbers; convert it explicitly if that is meant"
    if source.kind == "f" and target.kind in "iu":
        return "floats would be truncated to integers"
    if source.kind == "O":
        return "an object array (SymPy data?) holds no numbers to load"
    return "these kinds do not convert"


class Module:
    """Base class of every layer and model; subclasses define ``forward``."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # Registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; call "
                f"super().__init__() first in {type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}; assign a minigrad.nn.Parameter (or None)"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}; assign a Tensor")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: parameters, buffers and children live in dicts.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        _check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}"
            )
        if hasattr(type(self), name) or (name in self.__dict__):
            raise KeyError(f"register_parameter: attribute {name!r} already exists")
        self._buffers.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        _check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or hasattr(type(self), name) or name in self.__dict__:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = tensor
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        _check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    # Traversal -----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple]:
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # Modes ---------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if param.grad is not None:
                param.grad = None if set_to_none else Tensor._constant(np.zeros_like(param.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # Hooks ---------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; it may return new args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; it may return a new output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    # State -------------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> "OrderedDict[str, np.ndarray]":
        """Every parameter and persistent buffer by dotted name, as NumPy arrays (copies)."""
        out = OrderedDict()
        for module_name, module in self.named_modules(prefix.rstrip(".")):
            skip = module.__dict__.get("_non_persistent", set())
            for name, param in module._parameters.items():
                if param is not None:
                    out[f"{module_name}.{name}" if module_name else name] = param.data.copy()
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in skip:
                    out[f"{module_name}.{name}" if module_name else name] = buffer.data.copy()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays into parameters and buffers by name.

        Checks every name, shape and dtype, and converts every array, before it changes
        anything, so a failed load leaves the module bit-identical. Dtypes convert as a
        careful reader expects: into a float tensor, floats and integers (values that
        would overflow the float type are refused); into a complex one, any number; into
        an integer one, integers; into a bool one, bools. Refused, with the key named:
        complex into float (the imaginary part would be dropped), bool into float (a mask
        is not a weight), floats into integers, object and string arrays.
        Returns ``(missing_keys, unexpected_keys)``. A dict returned by ``minigrad.load``
        remembers its file, and the errors name it.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a dict of arrays, got {type(state_dict).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        updates = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                array = np.asarray(value.data if isinstance(value, Tensor) else value)
            except (TypeError, ValueError) as error:
                errors.append(f"cannot read {key} as an array: {error}.")
                continue
            if array.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {array.shape} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
                continue
            refusal = _dtype_refusal(array.dtype, target.dtype)
            if refusal:
                errors.append(f"dtype mismatch for {key}: got {array.dtype}, expected {target.dtype} ({refusal}).")
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                converted = np.array(array, dtype=target.dtype, copy=True)
            if target.dtype.kind in "fc" and not np.array_equal(np.isfinite(converted), np.isfinite(array)):
                errors.append(
                    f"dtype mismatch for {key}: its {array.dtype} values overflow {target.dtype} "
                    f"(largest |value| {float(np.max(np.abs(array[np.isfinite(array)]))):.3g})."
                )
                continue
            if target.dtype.kind in "iu" and not np.array_equal(converted, array):
                errors.append(f"dtype mismatch for {key}: its {array.dtype} values do not fit {target.dtype}.")
                continue
            updates.append((target, converted))
        if errors:
            source = getattr(state_dict, "source", None)
            origin = f"the checkpoint {source!r} (read by minigrad.load)" if source else "the state_dict"
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
                + f"\n\tload_state_dict changed nothing: {origin} does not fit this model."
            )
        # Only now, with every array checked and converted, does the module change.
        for target, converted in updates:
            target._data = converted
            bump_version(target)
        return missing, unexpected

    def _state_tensors(self) -> "OrderedDict[str, Tensor]":
        out = OrderedDict()
        for module_name, module in self.named_modules():
            skip = module.__dict__.get("_non_persistent", set())
            for store in (module._parameters, module._buffers):
                for name, tensor in store.items():
                    if tensor is not None and name not in skip:
                        out[f"{module_name}.{name}" if module_name else name] = tensor
        return out

    # Display -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"
