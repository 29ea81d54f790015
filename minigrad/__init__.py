"""minigrad: a small reverse-mode autograd engine over NumPy (and SymPy).

    import minigrad as mg
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (x * x).sum().backward()
    x.grad          # tensor([[2., 4.], [6., 8.]])
"""
from minigrad.tensor import (
    Tensor, arange, eye, from_numpy, full, lift, ones, ones_like, rand, randn, symbols, tensor, zeros,
    zeros_like,
)
from minigrad import tensor_methods as tensor_methods  # adds Tensor's operators and methods to the class
from minigrad.autograd import enable_grad, grad, is_grad_enabled, no_grad
from minigrad.random import manual_seed
from minigrad.ops import (
    abs_ as abs, add, broadcast_to, concatenate, div, exp, flatten, getitem, log, log_softmax,
    matmul, max_ as max, maximum, min_ as min, minimum, mul, neg, pow_ as pow, reshape, sqrt,
    stack, sub, sum_ as sum, svd, svdvals, swapaxes, tanh, transpose, unbroadcast, where,
)
from minigrad.functional import (
    cross_entropy, leaky_relu, logsumexp, mean, mse_loss, relu, sigmoid, softmax, var,
)
from minigrad.functional import (  # PyTorch's names (see Tensor's docstring)
    amax, amin, argmax, argmin, cat, chunk, clamp, masked_fill, permute, prod, repeat, return_types,
    sort, split, squeeze, std, topk, unsqueeze,
)
from minigrad.ops.special import cos, erf, sin
from minigrad.serialization import load, save
from minigrad.anomaly import detect_anomaly
from minigrad import nn, optim
from minigrad import numeric_warnings

numeric_warnings.install()

float32 = "float32"
float64 = "float64"

__version__ = "0.1.0"

__all__ = [
    "__version__", "abs", "add", "amax", "amin", "arange", "argmax", "argmin", "broadcast_to",
    "cat", "chunk", "clamp", "concatenate", "cos", "cross_entropy", "detect_anomaly", "div",
    "enable_grad", "erf", "exp", "eye", "flatten", "float32", "float64", "from_numpy", "full",
    "getitem", "grad", "is_grad_enabled", "leaky_relu", "lift", "load", "log", "log_softmax",
    "logsumexp", "manual_seed", "masked_fill", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mse_loss", "mul", "neg", "nn", "no_grad", "ones", "ones_like", "optim", "permute",
    "pow", "prod", "rand", "randn", "relu", "repeat", "reshape", "return_types", "save", "sigmoid",
    "sin", "softmax", "sort", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "svd",
    "svdvals", "swapaxes", "symbols", "tanh", "tensor", "Tensor", "topk",
    "transpose", "unbroadcast", "unsqueeze", "var", "where", "zeros", "zeros_like",
]
