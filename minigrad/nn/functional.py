"""The composed functions and primitives in one namespace, like torch.nn.functional."""
from minigrad.functional import *  # noqa: F401,F403
from minigrad.functional import (  # noqa: F401
    abs, cross_entropy, exp, leaky_relu, linear, log, log_softmax, logsumexp, matmul, maximum,
    mean, minimum, mse_loss, relu, reshape, sigmoid, softmax, sqrt, tanh, transpose, var, where,
)
