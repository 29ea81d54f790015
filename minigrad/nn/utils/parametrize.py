"""Parametrizations: a module's tensor computed from other tensors on every access.

PyTorch's ``torch.nn.utils.parametrize`` with the same names and state_dict layout:

    register_parametrization(conv, "weight", SomeModule())
    conv.weight                     # SomeModule()(original), recomputed on each access
    conv.parametrizations.weight.original        # the Parameter the optimiser updates
    conv.state_dict() keys: "parametrizations.weight.original", "parametrizations.weight.0.<buffers>"

How it works (as in PyTorch): the module's class is swapped for a subclass of it with a
property for the tensor's name, and the tensor moves into ``module.parametrizations``, a
container module holding one ``ParametrizationList`` per name. If the parametrization has
``right_inverse``, the stored original is ``right_inverse(tensor)`` (a tuple becomes
``original0``, ``original1``, ...) and assigning ``module.weight = x`` stores
``right_inverse(x)``. Inside ``with cached():`` each parametrized tensor is computed once.
"""
from __future__ import annotations

import contextlib

from minigrad.modes import no_grad
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor

_cache_enabled = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Within this context each parametrized tensor is computed once and reused."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


class ModuleDict(Module):
    """Child modules by name (the container of ``module.parametrizations``)."""

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __delitem__(self, name: str) -> None:
        del self._modules[name]

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()


class ParametrizationList(Module):
    """The parametrizations of one tensor (children "0", "1", ...) and its original(s)."""

    def __init__(self, modules: list, original: Tensor, unsafe: bool = False):
        super().__init__()
        if not modules:
            raise ValueError("ParametrizationList: needs at least one parametrization")
        self.unsafe = unsafe
        for index, module in enumerate(modules):
            self.add_module(str(index), module)
        # The original is right_inverse applied to the tensor, from the last parametrization back.
        with no_grad():
            value = original
            for module in reversed(modules):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
        self.is_tensor = isinstance(value, Tensor)
        self.ntensors = 1 if self.is_tensor else len(value)
        requires_grad = original.requires_grad
        if self.is_tensor:
            if isinstance(original, Parameter) and value is original:
                self.register_parameter("original", original)
            else:
                self.register_parameter("original", Parameter(value.data.copy(), requires_grad=requires_grad))
        else:
            for index, part in enumerate(value):
                if not isinstance(part, Tensor):
                    raise ValueError(
                        f"register_parametrization: right_inverse must return tensors, got {type(part).__name__}"
                    )
                self.register_parameter(f"original{index}", Parameter(part.data.copy(), requires_grad=requires_grad))
        if not unsafe:
            computed = self()
            if not isinstance(computed, Tensor) or computed.shape != original.shape or computed.dtype != original.dtype:
                raise ValueError(
                    f"register_parametrization: the parametrization changes the tensor's shape or dtype "
                    f"(from {original.shape} {original.dtype} to {getattr(computed, 'shape', None)} "
                    f"{getattr(computed, 'dtype', None)}); pass unsafe=True if that is meant"
                )

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def right_inverse(self, value) -> None:
        """Store ``value`` as the original(s), through every parametrization's right_inverse."""
        with no_grad():
            for module in reversed(list(self._modules.values())):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                elif not self.unsafe and len(self._modules) > 1:
                    pass
            if self.is_tensor:
                self.original.data = value.data if isinstance(value, Tensor) else value
            else:
                for index, part in enumerate(value):
                    getattr(self, f"original{index}").data = part.data if isinstance(part, Tensor) else part

    def forward(self):
        modules = list(self._modules.values())
        if self.is_tensor:
            value = modules[0](self.original)
        else:
            value = modules[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in modules[1:]:
            value = module(value)
        return value


def _parametrized_value(module: Module, name: str) -> Tensor:
    key = (id(module), name)
    if _cache_enabled:
        value = _cache.get(key)
        if value is None:
            value = _cache[key] = module.parametrizations[name]()
        return value
    return module.parametrizations[name]()


def _swap_class(module: Module) -> None:
    """Give ``module`` a class of its own (a subclass of its class) to hang properties on."""
    cls = type(module)

    def __setattr__(self, name, value):
        params = self.__dict__.get("_modules", {}).get("parametrizations")
        if params is not None and name in params:
            params[name].right_inverse(value)
            return
        cls.__setattr__(self, name, value)

    subclass = type(f"Parametrized{cls.__name__}", (cls,), {"__setattr__": __setattr__, "_unparametrized_class": cls})
    object.__setattr__(module, "__class__", subclass)


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the stored original.

    A second parametrization on the same tensor is applied after the first. Returns the module.
    """
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"register_parametrization: the parametrization must be a Module, got {type(parametrization).__name__}"
        )
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        plist.add_module(str(len(plist)), parametrization)
        if not unsafe:
            with no_grad():
                plist()
        return module
    original = module._parameters.get(tensor_name, module._buffers.get(tensor_name))
    if original is None:
        raise ValueError(
            f"register_parametrization: {type(module).__name__} has no parameter or buffer {tensor_name!r}; "
            f"it has {list(module._parameters) + list(module._buffers)}"
        )
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    # Only now, with the parametrization built and checked, does the module change.
    module._parameters.pop(tensor_name, None)
    module._buffers.pop(tensor_name, None)
    if not is_parametrized(module):
        _swap_class(module)
        module.add_module("parametrizations", ModuleDict())
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, property(lambda self, _n=tensor_name: _parametrized_value(self, _n)))
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Does ``module`` have parametrizations (on ``tensor_name``, if given)?"""
    params = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(params, ModuleDict):
        return False
    return len(params) > 0 if tensor_name is None else tensor_name in params


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Take the parametrizations off ``module.<tensor_name>``.

    ``leave_parametrized=True`` (the default) keeps the current parametrized value as the
    plain parameter; ``False`` gives back the stored original (only when there is one).
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if leave_parametrized:
        with no_grad():
            value = plist()
        if plist.is_tensor:
            original = plist.original
            original.data = value.data
        else:
            original = Parameter(value.data.copy(), requires_grad=plist.original0.requires_grad)
    else:
        if not plist.is_tensor:
            raise ValueError(
                "remove_parametrizations: leave_parametrized=False needs a parametrization with one "
                "original tensor; this one stores several (e.g. weight norm's g and v)"
            )
        original = plist.original
    del module.parametrizations[tensor_name]
    delattr(type(module), tensor_name)
    if len(module.parametrizations) == 0:
        del module._modules["parametrizations"]
        object.__setattr__(module, "__class__", type(module)._unparametrized_class)
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    return module


__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList", "ModuleDict"]

