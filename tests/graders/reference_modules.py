"""The reference as a student's modules: what in-process tests hand a spec's program instead of a submission."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from graders.sandbox.support import nngrade_support as SUPPORT
from reference import cs231n
from reference import dlfs as D
from reference import layers as BOOK_LAYERS
from reference import optimizer as BOOK_OPTIMIZER
from reference import trainer as BOOK_TRAINER
from reference.cs231n import cnn, extras, fc_net, knn, layer_utils, linear, neural_net, optim, rnn, rnn_layers
from reference.multi_layer_net import MultiLayerNet

#: cs231n's module keys: layers.py holds the naive conv and pool too; fast_layers the fast ones.
CS231N: dict[str, Any] = {
    "layers": cs231n,
    "fast_layers": cs231n,
    "layer_utils": layer_utils,
    "optim": optim,
    "fc_net": fc_net,
    "cnn": cnn,
    # assignment 1's classifiers
    "k_nearest_neighbor": knn,
    "linear_svm": linear,
    "softmax": linear,
    "linear_classifier": linear,
    "neural_net": neural_net,
    "rnn_layers": rnn_layers,
    "rnn": rnn,
    "nngrade_support": SUPPORT,
    "extras": extras,
}
#: The book's module keys (common/functions.py, common/layers.py, ...) and the grader's support module.
DLFS: dict[str, Any] = {
    "functions": SimpleNamespace(sigmoid=D.sigmoid, softmax=D.softmax, cross_entropy_error=D.cross_entropy_error),
    "util": SimpleNamespace(im2col=D.im2col, col2im=D.col2im),
    "gradient": SimpleNamespace(numerical_gradient=D.numerical_gradient),
    "layers": BOOK_LAYERS,
    "two_layer_net": SimpleNamespace(TwoLayerNet=D.TwoLayerNet),
    "optimizer": BOOK_OPTIMIZER,
    "multi_layer_net": SimpleNamespace(MultiLayerNet=MultiLayerNet),
    "simple_convnet": SimpleNamespace(SimpleConvNet=D.SimpleConvNet),
    "multi_layer_net_extend": SimpleNamespace(MultiLayerNetExtend=D.MultiLayerNetExtend),
    "trainer": SimpleNamespace(Trainer=BOOK_TRAINER.Trainer),
    "nngrade_support": SUPPORT,
}
