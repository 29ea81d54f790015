"""Neural-network building blocks with PyTorch's names: Module, Parameter, layers."""
from minigrad.nn import functional
from minigrad.nn.layers import Identity, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh
from minigrad.nn.module import Module, Parameter, RemovableHandle

__all__ = [
    "functional", "Module", "Parameter", "RemovableHandle", "Linear", "Sequential", "ReLU",
    "Tanh", "Sigmoid", "LeakyReLU", "Identity",
]
