"""Trusted NumPy reference implementations of the cs231n and Deep Learning from Scratch layers.

Public faces (stable): ``reference.cs231n`` (assignment 2's layers.py and layer_utils.py, with the fast
conv/pool layers), ``reference.dlfs`` (the book's classes, functions, MNIST loader and two-layer net) and
``reference.adapt_input_conv`` (timm's first-layer weight adaptation).
"""

from reference import cs231n, dlfs
from reference.timm import adapt_input_conv

__all__ = ["adapt_input_conv", "cs231n", "dlfs"]
