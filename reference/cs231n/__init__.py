"""The public face of cs231n assignment 2: every gradable function under the hand-out's name and signature.

    from reference import cs231n as R
    out, cache = R.conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})

``layers`` holds the single layers and losses, ``conv`` the convolution and pooling layers (naive and fast),
``layer_utils`` the sandwich layers built from them. The update rules of ``optim.py`` are a module of their own,
as in the hand-out: ``from reference.cs231n import optim``.
"""

from __future__ import annotations

from reference.cs231n.conv import (
    conv_backward_fast,
    conv_backward_naive,
    conv_forward_fast,
    conv_forward_naive,
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
)
from reference.cs231n.layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from reference.cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
    svm_loss,
)

__all__ = [
    # layers.py: single layers and losses
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "softmax_loss",
    "svm_loss",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    # convolution and pooling
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    # layer_utils.py: sandwiches
    "affine_relu_forward",
    "affine_relu_backward",
    "conv_relu_forward",
    "conv_relu_backward",
    "conv_bn_relu_forward",
    "conv_bn_relu_backward",
    "conv_relu_pool_forward",
    "conv_relu_pool_backward",
]
