"""Gradient descent: SGD (momentum, dampening, Nesterov, weight decay) and Adam.

The update rules are PyTorch's (torch/optim/sgd.py and adam.py), so a model trained here
and in PyTorch from the same start follows the same path to rounding error.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.modes import bump_version, no_grad
from minigrad.tensor import Tensor


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses define ``step``."""

    defaults: dict = {}

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors (e.g. "
                f"model.parameters()), not a single tensor; wrap it in a list."
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list = []
        self.state: dict = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {index} is a {type(param).__name__}, not a Tensor")
            if id(param) in seen:
                raise ValueError(
                    f"{type(self).__name__}: parameter {index} (shape {param.shape}) appears more than "
                    f"once; give each parameter to an optimiser only once"
                )
            seen.add(id(param))
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        lr = group["lr"]
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr >= 0 or math.isinf(lr):
            raise ValueError(f"{type(self).__name__}: Invalid learning rate: {lr!r}; it must be a finite number >= 0")
        weight_decay = group.get("weight_decay", 0)
        if not weight_decay >= 0:
            raise ValueError(f"{type(self).__name__}: Invalid weight_decay value: {weight_decay!r}; it must be >= 0")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param.grad = None if set_to_none else Tensor._constant(np.zeros_like(param.grad.data))

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _params_with_grad(self, group):
        for param in group["params"]:
            if param.grad is not None:
                yield param, param.grad.data

    def state_dict(self) -> dict:
        """{'state': {index: {name: array}}, 'param_groups': [{..., 'params': [indices]}]}."""
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
                packed["params"].append(index_of[id(param)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for param in group["params"]:
                if id(param) in self.state:
                    state[index_of[id(param)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state[id(param)].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or "state" not in state_dict:
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected keys 'state' and 'param_groups'")
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved groups hold "
                f"{[len(g['params']) for g in groups]} parameters, this optimiser holds "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        params = {}
        for saved, own in zip(groups, self.param_groups):
            for index, param in zip(saved["params"], own["params"]):
                params[int(index)] = param
        new_state = {}
        for index, entry in state_dict["state"].items():
            param = params[int(index)]
            copied = {}
            for key, value in entry.items():
                if isinstance(value, np.ndarray) and value.ndim > 0 and value.shape != param.shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state {key!r} of parameter {index} has "
                        f"shape {value.shape}, the parameter has shape {param.shape}"
                    )
                copied[key] = value.copy() if isinstance(value, np.ndarray) else value
            new_state[id(param)] = copied
        for saved, own in zip(groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    own[key] = value
        self.state = new_state


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule.

    d = grad + weight_decay * p;  with momentum: b = momentum * b + (1 - dampening) * d
    (b = d on the first step), d = d + momentum * b (Nesterov) or d = b;  p = p - lr * d.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False):
        if not momentum >= 0:
            raise ValueError(f"SGD: Invalid momentum value: {momentum!r}; it must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for param, grad in self._params_with_grad(group):
                if weight_decay:
                    grad = grad + weight_decay * param.data
                if momentum:
                    state = self.state.setdefault(id(param), {})
                    buffer = state.get("momentum_buffer")
                    if buffer is None:
                        buffer = np.array(grad, copy=True)
                    else:
                        buffer *= momentum
                        buffer += (1 - dampening) * grad
                    state["momentum_buffer"] = buffer
                    grad = grad + momentum * buffer if nesterov else buffer
                param._data = param._data - lr * grad
                bump_version(param)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's bias correction and L2 weight decay.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0):
        beta1, beta2 = betas
        if not 0.0 <= beta1 < 1.0 or not 0.0 <= beta2 < 1.0:
            raise ValueError(f"Adam: Invalid beta parameters: {betas!r}; each must be in [0, 1)")
        if not eps >= 0:
            raise ValueError(f"Adam: Invalid epsilon value: {eps!r}; it must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay = group["weight_decay"]
            for param, grad in self._params_with_grad(group):
                if weight_decay:
                    grad = grad + weight_decay * param.data
                state = self.state.setdefault(id(param), {})
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(param.data)
                    state["exp_avg_sq"] = np.zeros_like(param.data)
                state["step"] += 1
                step = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg += (1 - beta1) * (grad - exp_avg)
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * grad * grad
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + eps
                param._data = param._data - (lr / bias_correction1) * (exp_avg / denom)
                bump_version(param)
