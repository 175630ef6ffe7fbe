import numpy as np

from ..layers import *
from ..layer_utils import *


class FullyConnectedNet:
    """{affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax, written as a list of blocks."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype

        dims = [input_dim] + list(hidden_dims) + [num_classes]
        self.params = {}
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)
            self.params[f"b{i}"] = np.zeros(fan_out)
        if normalization:
            for i, d in enumerate(hidden_dims, start=1):
                self.params[f"gamma{i}"] = np.ones(d)
                self.params[f"beta{i}"] = np.zeros(d)

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        self.params = {k: v.astype(dtype) for k, v in self.params.items()}

    def _norm(self, i):
        if self.normalization == "batchnorm":
            return batchnorm_forward, batchnorm_backward_alt
        return layernorm_forward, layernorm_backward

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        out = X.reshape(len(X), -1)
        stack = []
        for i in range(1, self.num_layers):
            out, c_aff = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            c_norm = None
            if self.normalization:
                forward, _ = self._norm(i)
                out, c_norm = forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1])
            out, c_relu = relu_forward(out)
            c_drop = None
            if self.use_dropout:
                out, c_drop = dropout_forward(out, self.dropout_param)
            stack.append((c_aff, c_norm, c_relu, c_drop))
        scores, c_last = affine_forward(out, self.params[f"W{self.num_layers}"], self.params[f"b{self.num_layers}"])

        if mode == "test":
            return scores

        data_loss, dout = softmax_loss(scores, y)
        weights = [self.params[f"W{i}"] for i in range(1, self.num_layers + 1)]
        loss = data_loss + 0.5 * self.reg * sum(np.sum(np.square(w)) for w in weights)

        grads = {}
        L = self.num_layers
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, c_last)
        for i in reversed(range(1, L)):
            c_aff, c_norm, c_relu, c_drop = stack[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, c_drop)
            dout = relu_backward(dout, c_relu)
            if self.normalization:
                _, backward = self._norm(i)
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = backward(dout, c_norm)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, c_aff)
        grads = {k: g + self.reg * self.params[k] if k.startswith("W") else g for k, g in grads.items()}
        return loss, grads
