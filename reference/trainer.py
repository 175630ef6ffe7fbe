"""The book's training loop (ch. 6-7, ``common/trainer.py``).

``Trainer(network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100, optimizer='SGD',
optimizer_param={'lr': 0.01}, evaluate_sample_num_per_epoch=None, verbose=True)``:

* the optimizer is chosen by name, case-insensitively, from common/optimizer.py (the book's dict spells RMSprop's
  key ``'rmsprpo'``; the reference takes ``'rmsprop'``) and built with ``**optimizer_param``;
* ``iter_per_epoch = max(train_size / mini_batch_size, 1)`` (a float), ``max_iter = int(epochs * iter_per_epoch)``;
* ``train_step``: a mini-batch of ``mini_batch_size`` indices drawn with replacement (``choice``), the network's
  gradient on it, one optimizer update, then the batch's loss *after* the update appended to
  ``train_loss_list``; when ``current_iter % iter_per_epoch == 0`` (before it is advanced) an epoch begins: the
  accuracies on the first ``evaluate_sample_num_per_epoch`` training and test examples (all when None) are
  appended to ``train_acc_list`` and ``test_acc_list``;
* ``train`` runs ``max_iter`` steps.

Batches come from ``rng`` (a Generator) when given, else from NumPy's global state as the book's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from reference.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["OPTIMIZERS", "Trainer"]

OPTIMIZERS: Mapping[str, Any] = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
                                 "rmsprop": RMSprop, "adam": Adam}


class Network(Protocol):
    params: dict[str, np.ndarray]

    def loss(self, x: np.ndarray, t: np.ndarray) -> float: ...

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]: ...

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float: ...


class Trainer:
    """The book's epoch loop around a network and an optimizer (see the module docstring)."""

    def __init__(self, network: Network, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray,
                 t_test: np.ndarray, epochs: int = 20, mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: Mapping[str, float] | None = None, evaluate_sample_num_per_epoch: int | None = None,
                 verbose: bool = True, rng: np.random.Generator | None = None) -> None:
        self.network, self.verbose, self.rng = network, verbose, rng
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.epochs, self.batch_size = epochs, mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = OPTIMIZERS[optimizer.lower()](**dict(optimizer_param or {"lr": 0.01}))
        self.train_size = int(np.shape(x_train)[0])
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []

    def _batch(self) -> np.ndarray:
        if self.rng is not None:
            return self.rng.choice(self.train_size, self.batch_size)
        return np.random.choice(self.train_size, self.batch_size)

    def train_step(self) -> None:
        mask = self._batch()
        x_batch, t_batch = self.x_train[mask], self.t_train[mask]
        self.optimizer.update(self.network.params, self.network.gradient(x_batch, t_batch))
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print(f"train loss: {loss}")
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            n = self.evaluate_sample_num_per_epoch
            train_acc = self.network.accuracy(self.x_train[:n], self.t_train[:n])
            test_acc = self.network.accuracy(self.x_test[:n], self.t_test[:n])
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch: {self.current_epoch}, train acc: {train_acc}, test acc: {test_acc} ===")
        self.current_iter += 1

    def train(self) -> None:
        for _ in range(self.max_iter):
            self.train_step()
        if self.verbose:
            print(f"test acc: {self.network.accuracy(self.x_test, self.t_test)}")
