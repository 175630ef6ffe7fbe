"""The book's layer classes ("Deep Learning from Scratch", ch. 5-7, ``common/layers.py``), as thin wrappers.

Each class keeps the book's constructor, ``forward``/``backward`` methods and attribute names (``W``, ``b``,
``dW``, ``db``, ``mask``, ``gamma``, ``dgamma``, ``running_mean``, ...), so code written against the book runs
unchanged; the arithmetic itself is the shared math of :mod:`reference.functional`, the same functions the
cs231n face uses, so a formula is written once.

Where the reference deliberately differs from the book (each is pinned by a test):

* ``Relu.backward`` returns a new array; the book's writes zeros into ``dout`` in place and returns it
  (harmless in the book's networks, surprising when ``dout`` is reused).
* ``SoftmaxWithLoss.backward`` multiplies by ``dout``; the book ignores its ``dout`` argument (it is always 1
  there). For a single 1-D example the reference divides by 1, consistent with the loss; the book divides by
  ``t.shape[0]``, the number of classes when ``t`` is one-hot.
* ``Dropout.backward`` after a *test-mode* forward returns ``dout * (1 - dropout_ratio)``, and
  ``BatchNormalization.backward`` the gradient of the running-statistics affine map; the book's would reuse
  the state of the last train-mode call.
* ``Pooling`` with ``pad > 0``: the book computes ``out_h = 1 + (H - pool_h) // stride`` ignoring the
  padding (its reshape then fails or mixes windows) and pads with zeros through ``im2col`` (a zero would beat
  all-negative windows at the border). The reference uses ``out_h = 1 + (H + 2 pad - pool_h) // stride`` and
  pads with ``-inf``, as torch does; like torch it rejects pad > pool size / 2.
"""

from __future__ import annotations

import numpy as np

from reference.functional.activations import relu, relu_grad, sigmoid, sigmoid_grad
from reference.functional.conv import conv2d, conv2d_grads
from reference.functional.dense import affine, affine_grads
from reference.functional.dropout import dropout, dropout_grad, keep_probability
from reference.functional.losses import cross_entropy_error, softmax
from reference.functional.normalization import (
    BatchNormCache,
    batchnorm_backward,
    batchnorm_eval,
    batchnorm_train,
    scale_shift_backward,
    update_running,
)
from reference.functional.pool import max_pool2d, max_pool2d_grads

__all__ = [
    "BOOK_BATCHNORM_EPS",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
]

#: The book writes ``10e-7`` inside the square root of its BatchNormalization, i.e. 1e-6 (not torch's 1e-5).
BOOK_BATCHNORM_EPS = 1e-6


def _not_forwarded(layer: object) -> RuntimeError:
    return RuntimeError(f"{type(layer).__name__}.backward called before forward")


class Relu:
    """max(0, x). ``mask`` is the book's boolean ``x <= 0`` (where the gradient is blocked)."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self._x = x.copy()
        self.mask = x <= 0
        return relu(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout`` where x > 0, else 0, as a new array; ``dout`` is left untouched (the book zeroes it)."""
        if self._x is None:
            raise _not_forwarded(self)
        return relu_grad(np.asarray(dout), self._x)


class Sigmoid:
    """1 / (1 + exp(-x)); the book keeps the output ``out`` because the gradient is out * (1 - out)."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.out is None:
            raise _not_forwarded(self)
        return sigmoid_grad(np.asarray(dout), self.out)


class Affine:
    """x.reshape(N, -1) @ W + b. A 4-D input (after a conv) is flattened as in the book; dx keeps its shape.

    ``W`` and ``b`` are held by reference, as in the book: ``params['W1'] -= lr * grad`` updates the layer.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return affine(self.x, self.W, self.b)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None or self.original_x_shape is None:
            raise _not_forwarded(self)
        dx, self.dW, self.db = affine_grads(np.asarray(dout), self.x, self.W)
        return dx.reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """Softmax followed by the book's cross-entropy ``-sum(log(y[true] + 1e-7)) / N``.

    ``t`` is one-hot (same size as the scores) or one integer label per example. ``backward(dout=1)`` returns
    ``dout * (y - t) / N``, the exact gradient of the loss without its 1e-7 guard (what the book returns).
    """

    def __init__(self) -> None:
        self.loss: float | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = np.asarray(t)
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout: float = 1) -> np.ndarray:
        if self.y is None or self.t is None:
            raise _not_forwarded(self)
        y = self.y.reshape(1, -1) if self.y.ndim == 1 else self.y
        batch_size = y.shape[0]
        if self.t.size == y.size:
            dx = y - self.t.reshape(y.shape)
        else:
            dx = y.copy()
            dx[np.arange(batch_size), self.t.reshape(-1)] -= 1
        return (dx * (dout / batch_size)).reshape(self.y.shape)


class Dropout:
    """The book's dropout: ``dropout_ratio`` is the DROP probability and it is not inverted.

    Train mode keeps a unit when ``np.random.rand() > dropout_ratio`` (drawn from NumPy's global state, so
    ``np.random.seed`` reproduces the book's masks) and passes kept units unchanged; test mode multiplies
    everything by ``1 - dropout_ratio``. ``mask`` is the book's boolean keep-mask.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        keep_probability(dropout_ratio, "drop")  # validates the ratio now, not at the first forward
        self.dropout_ratio = dropout_ratio
        self.mask: np.ndarray | None = None
        self._trained: bool | None = None  # mode of the last forward

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        out, mask = dropout(
            x, self.dropout_ratio, rate_is="drop", inverted=False, keep_when="above", train=train_flg
        )
        self._trained = bool(train_flg)
        if mask is not None:
            self.mask = mask != 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._trained is None:
            raise _not_forwarded(self)
        mask = self.mask if self._trained else None
        return dropout_grad(np.asarray(dout), mask, keep=1.0 - self.dropout_ratio, inverted=False)


class BatchNormalization:
    """The book's batch norm: per activation, eps 1e-6, ``momentum * running + (1 - momentum) * batch``.

    A 4-D input is flattened to (N, C*H*W) first, so ``gamma``/``beta`` have C*H*W entries (one per
    activation, not per channel as in spatial batch norm). The running variance is the biased batch
    variance. The running statistics start as zeros at the first forward when not given.
    """

    def __init__(
        self,
        gamma: np.ndarray,
        beta: np.ndarray,
        momentum: float = 0.9,
        running_mean: np.ndarray | None = None,
        running_var: np.ndarray | None = None,
    ) -> None:
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape: tuple[int, ...] | None = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size: int | None = None
        self.xc: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self._cache: BatchNormCache | None = None  # after a train-mode forward
        self._eval_input: np.ndarray | None = None  # after a test-mode forward

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        x = np.asarray(x)
        self.input_shape = x.shape
        rows = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(rows.shape[1])
        if self.running_var is None:
            self.running_var = np.zeros(rows.shape[1])
        if train_flg:
            out, mean, var, self._cache = batchnorm_train(rows, self.gamma, self.beta, BOOK_BATCHNORM_EPS)
            s = self._cache.standardized
            self.batch_size, self.xc, self.std = rows.shape[0], s.centered, 1.0 / s.inv_std
            self.running_mean = update_running(self.running_mean, mean, self.momentum)
            self.running_var = update_running(self.running_var, var, self.momentum)
            self._eval_input = None
        else:
            out = batchnorm_eval(
                rows, self.gamma, self.beta, self.running_mean, self.running_var, BOOK_BATCHNORM_EPS
            )
            self._cache, self._eval_input = None, rows.copy()
        return out.reshape(x.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Gradient of the last forward: through the batch statistics after a train-mode forward; after a
        test-mode forward the layer is a fixed per-activation affine map (the book reuses stale state)."""
        if self.input_shape is None or (self._cache is None and self._eval_input is None):
            raise _not_forwarded(self)
        dout = np.asarray(dout)
        rows = dout.reshape(dout.shape[0], -1)
        if self._cache is not None:
            dx, self.dgamma, self.dbeta = batchnorm_backward(rows, self._cache)
        else:
            assert self._eval_input is not None and self.running_mean is not None
            assert self.running_var is not None
            inv_std = 1.0 / np.sqrt(self.running_var + BOOK_BATCHNORM_EPS)
            xhat = (self._eval_input - self.running_mean) * inv_std
            dxhat, self.dgamma, self.dbeta = scale_shift_backward(rows, xhat, np.asarray(self.gamma))
            dx = dxhat * inv_std
        return dx.reshape(self.input_shape)


class Convolution:
    """Cross-correlation of x (N, C, H, W) with W (FN, C, FH, FW) plus b (FN,); sizes are floored."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x: np.ndarray | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = np.asarray(x)
        return conv2d(self.x, self.W, self.b, self.stride, self.pad)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise _not_forwarded(self)
        dx, self.dW, self.db = conv2d_grads(np.asarray(dout), self.x, self.W, self.stride, self.pad)
        return dx


class Pooling:
    """Max pooling of pool_h x pool_w windows: ``-inf`` padding, padding-aware output size (see module doc).

    The gradient goes to the first maximum of each window (row-major), as the book's ``argmax`` does.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0) -> None:
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = np.asarray(x)
        return max_pool2d(self.x, self.pool_h, self.pool_w, self.stride, self.pad)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise _not_forwarded(self)
        return max_pool2d_grads(np.asarray(dout), self.x, self.pool_h, self.pool_w, self.stride, self.pad)
