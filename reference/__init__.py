"""Trusted NumPy reference implementations of the cs231n and Deep Learning from Scratch layers."""
