"""Specs of CS231n assignment 1 (2019+), its NumPy parts: ``k_nearest_neighbor.py`` (knn.py), ``linear_svm.py``
and ``softmax.py`` (losses.py), ``linear_classifier.py`` (classifier.py) and the two-layer net of
``classifiers/fc_net.py`` and of the 2016-2019 ``classifiers/neural_net.py`` (two_layer_net.py). Module keys are in
common.py.
"""

from __future__ import annotations

from collections.abc import Callable

from graders.specs.base import Spec
from graders.specs.cs231n_a1 import classifier, knn, losses, two_layer_net

FACTORIES: dict[str, Callable[..., Spec]] = {**knn.FACTORIES, **losses.FACTORIES, **classifier.FACTORIES,
                                                 **two_layer_net.FACTORIES}
