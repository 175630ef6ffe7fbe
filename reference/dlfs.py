"""The public face of the book ("Deep Learning from Scratch"): its classes and functions under its names.

What the ``dlfs`` assignment grades against, and what a reader of the book can import directly:
the ch. 5-7 layer classes, the ch. 3-4 functions (``sigmoid``, ``softmax``, ``cross_entropy_error``,
``numerical_gradient``), ``im2col``/``col2im`` with the book's column layout, ``load_mnist`` with the book's
options, ``TwoLayerNet`` and a reproducible training loop. Where the reference departs from the book's code
(in-place ``dout`` in ``Relu``, ``Pooling`` with padding, ...) is documented in :mod:`reference.layers`.
"""

from __future__ import annotations

from reference.data.mnist import download_mnist, load_mnist
from reference.functional.activations import relu, sigmoid
from reference.functional.im2col import col2im, im2col
from reference.functional.losses import cross_entropy_error, softmax
from reference.gradcheck import numerical_gradient
from reference.layers import (
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Pooling,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
)
from reference.multi_layer_net import MultiLayerNet
from reference.multi_layer_net_extend import MultiLayerNetExtend
from reference.nets import TwoLayerNet, epoch_batches, train_two_layer_net
from reference.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from reference.simple_convnet import SimpleConvNet

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "Affine",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "Momentum",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Nesterov",
    "Pooling",
    "RMSprop",
    "Relu",
    "Sigmoid",
    "SimpleConvNet",
    "SoftmaxWithLoss",
    "TwoLayerNet",
    "col2im",
    "cross_entropy_error",
    "download_mnist",
    "epoch_batches",
    "im2col",
    "load_mnist",
    "numerical_gradient",
    "relu",
    "sigmoid",
    "softmax",
    "train_two_layer_net",
]
