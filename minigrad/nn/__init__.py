"""Neural-network building blocks with PyTorch's names: Module, Parameter, layers."""
from minigrad.nn import functional
from minigrad.nn.layers import (
    GELU, Dropout, Embedding, Flatten, Identity, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Softplus, Tanh,
)
from minigrad.nn.module import Module, Parameter, RemovableHandle
from minigrad.nn.conv import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d
from minigrad.nn.normalization import BatchNorm2d, LayerNorm
from minigrad.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from minigrad.nn import utils

__all__ = [
    "functional", "Module", "Parameter", "RemovableHandle", "Linear", "Sequential", "ReLU",
    "Tanh", "Sigmoid", "LeakyReLU", "Identity", "Flatten", "Dropout", "Embedding", "GELU", "Softplus",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
    "LayerNorm", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "utils",
]
