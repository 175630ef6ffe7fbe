"""The book's extended fully connected network (ch. 6, ``common/multi_layer_net_extend.py``).

``MultiLayerNetExtend(input_size, hidden_size_list, output_size, activation='relu', weight_init_std='relu',
weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False)`` (the book spells the
dropout argument ``dropout_ration``): per hidden layer Affine -> [BatchNormalization] -> activation ->
[Dropout], then Affine -> SoftmaxWithLoss.

* Initial weights and weight decay as :class:`reference.multi_layer_net.MultiLayerNet`; with batch norm,
  ``gamma<i>`` (ones) and ``beta<i>`` (zeros) for each hidden layer, held by the layers like the weights.
* ``predict(x, train_flg=False)`` and ``loss(x, t, train_flg=False)``: the flag reaches the batch-norm layers
  (batch statistics and running averages in train mode) and the dropout layers (random masks in train mode,
  ``* (1 - dropout_ration)`` in test mode). ``accuracy`` predicts in test mode; ``gradient`` and
  ``numerical_gradient`` differentiate the train-mode loss (each of its calls draws new dropout masks, as the
  book's does).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference.layers import BatchNormalization, Dropout
from reference.multi_layer_net import MultiLayerNet

__all__ = ["MultiLayerNetExtend"]


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional batch normalisation before and dropout after each hidden activation."""

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: float | str = "relu", weight_decay_lambda: float = 0,
                 use_dropout: bool = False, dropout_ration: float = 0.5, use_batchnorm: bool = False,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
                         rng)
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        self.norms: list[BatchNormalization] = []
        if use_batchnorm:
            for i, size in enumerate(hidden_size_list, 1):
                self.params[f"gamma{i}"], self.params[f"beta{i}"] = np.ones(size), np.zeros(size)
                self.norms.append(BatchNormalization(self.params[f"gamma{i}"], self.params[f"beta{i}"]))
        self.dropouts = [Dropout(dropout_ration) for _ in hidden_size_list] if use_dropout else []

    def _bind_params(self) -> None:
        super()._bind_params()
        for i, norm in enumerate(self.norms, 1):
            norm.gamma, norm.beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]

    def _hidden_forward(self, i: int, x: np.ndarray, train_flg: bool) -> np.ndarray:
        """[BatchNorm] -> activation -> [Dropout], the flag reaching both optional layers."""
        if self.norms:
            x = self.norms[i - 1].forward(x, train_flg)
        x = self.activations[i - 1].forward(x)
        if self.dropouts:
            x = self.dropouts[i - 1].forward(x, train_flg)
        return x

    def _hidden_backward(self, i: int, dout: np.ndarray) -> np.ndarray:
        if self.dropouts:
            dout = self.dropouts[i - 1].backward(dout)
        dout = self.activations[i - 1].backward(dout)
        if self.norms:
            dout = self.norms[i - 1].backward(dout)
        return dout

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        return self._forward(x, train_flg)

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        return float(self.last_layer.forward(self.predict(x, train_flg), t)) + self.weight_decay()

    def _train_loss(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.loss(x, t, train_flg=True)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        grads = super().gradient(x, t)
        for i, norm in enumerate(self.norms, 1):
            assert norm.dgamma is not None and norm.dbeta is not None
            grads[f"gamma{i}"], grads[f"beta{i}"] = norm.dgamma, norm.dbeta
        return grads
