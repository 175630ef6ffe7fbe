"""The reference as a student's modules: what in-process tests hand a spec's program instead of a submission."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graders.sandbox.support import nngrade_support as SUPPORT
from reference import cs231n
from reference import dlfs as D
from reference import layers as BOOK_LAYERS
from reference.cs231n import fc_net, layer_utils, optim
from reference.functional import conv as CONV

#: cs231n's module keys: layers.py holds the naive conv and pool too; fast_layers the fast ones.
CS231N: dict[str, Any] = {
    "layers": cs231n,
    "fast_layers": cs231n,
    "layer_utils": layer_utils,
    "optim": optim,
    "fc_net": fc_net,
    "nngrade_support": SUPPORT,
    "extras": SimpleNamespace(conv2d=CONV.conv2d, conv2d_grads=CONV.conv2d_grads, conv1d=CONV.conv1d,
                              conv1d_grads=CONV.conv1d_grads),
}
#: The book's module keys (common/functions.py, common/layers.py, ...) and the grader's support module.
DLFS: dict[str, Any] = {
    "functions": SimpleNamespace(sigmoid=D.sigmoid, softmax=D.softmax, cross_entropy_error=D.cross_entropy_error),
    "util": SimpleNamespace(im2col=D.im2col, col2im=D.col2im),
    "gradient": SimpleNamespace(numerical_gradient=D.numerical_gradient),
    "layers": BOOK_LAYERS,
    "two_layer_net": SimpleNamespace(TwoLayerNet=D.TwoLayerNet),
    "nngrade_support": SUPPORT,
}
