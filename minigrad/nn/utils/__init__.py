"""Utilities on modules, as torch.nn.utils: parametrizations (``parametrize``)."""
from minigrad.nn.utils import parametrize

__all__ = ["parametrize"]
