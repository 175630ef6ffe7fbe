from builtins import range
from builtins import object
import numpy as np

from ..layers import *
from ..layer_utils import *


class FullyConnectedNet(object):
    """Class for a multi-layer fully connected neural network.

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
    ):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        # layer by layer, one dimension pair at a time
        layer_input = input_dim
        for i in range(self.num_layers):
            if i < self.num_layers - 1:
                layer_output = hidden_dims[i]
            else:
                layer_output = num_classes
            self.params["W" + str(i + 1)] = np.random.normal(0.0, weight_scale, size=(layer_input, layer_output))
            self.params["b" + str(i + 1)] = np.zeros(layer_output)
            if self.normalization is not None and i < self.num_layers - 1:
                self.params["gamma" + str(i + 1)] = np.ones(layer_output)
                self.params["beta" + str(i + 1)] = np.zeros(layer_output)
            layer_input = layer_output

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for i in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"

        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        caches = []
        h = X.reshape(X.shape[0], -1)
        for i in range(1, self.num_layers):
            W, b = self.params["W%d" % i], self.params["b%d" % i]
            if self.normalization is None:
                h, cache = affine_relu_forward(h, W, b)
                caches.append(("plain", cache, None))
            else:
                a, fc_cache = affine_forward(h, W, b)
                gamma, beta = self.params["gamma%d" % i], self.params["beta%d" % i]
                if self.normalization == "batchnorm":
                    a, norm_cache = batchnorm_forward(a, gamma, beta, self.bn_params[i - 1])
                else:
                    a, norm_cache = layernorm_forward(a, gamma, beta, self.bn_params[i - 1])
                h, relu_cache = relu_forward(a)
                caches.append(("norm", (fc_cache, norm_cache, relu_cache), None))
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
                caches[-1] = (caches[-1][0], caches[-1][1], drop_cache)
        L = self.num_layers
        scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])

        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        loss, dscores = softmax_loss(scores, y)
        for i in range(1, L + 1):
            W = self.params["W%d" % i]
            loss += 0.5 * self.reg * np.sum(W * W)

        dh, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            kind, cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            if kind == "plain":
                dh, dW, db = affine_relu_backward(dh, cache)
            else:
                fc_cache, norm_cache, relu_cache = cache
                da = relu_backward(dh, relu_cache)
                if self.normalization == "batchnorm":
                    da, grads["gamma%d" % i], grads["beta%d" % i] = batchnorm_backward(da, norm_cache)
                else:
                    da, grads["gamma%d" % i], grads["beta%d" % i] = layernorm_backward(da, norm_cache)
                dh, dW, db = affine_backward(da, fc_cache)
            grads["W%d" % i] = dW
            grads["b%d" % i] = db

        for i in range(1, L + 1):
            grads["W%d" % i] += self.reg * self.params["W%d" % i]

        return loss, grads
