import numpy as np

from ..layers import *
from ..layer_utils import *


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, each layer called on its own."""

    POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32):
        self.reg = reg
        self.dtype = dtype
        channels, height, width = input_dim
        shapes = {
            "W1": (num_filters, channels, filter_size, filter_size),
            "W2": (num_filters * (height // 2) * (width // 2), hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for i, (name, shape) in enumerate(shapes.items(), start=1):
            self.params[name] = (weight_scale * np.random.randn(*shape)).astype(dtype)
            self.params["b%d" % i] = np.zeros(shape[0] if i == 1 else shape[1], dtype=dtype)

    def loss(self, X, y=None):
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}

        a, conv_cache = conv_forward_naive(X, p["W1"], p["b1"], conv_param)
        r, relu_cache = relu_forward(a)
        pooled, pool_cache = max_pool_forward_naive(r, self.POOL)
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, out_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        weights = [p["W1"], p["W2"], p["W3"]]
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(np.square(w)) for w in weights)

        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, out_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        da = relu_backward(max_pool_backward_naive(dpooled, pool_cache), relu_cache)
        _, grads["W1"], grads["b1"] = conv_backward_naive(da, conv_cache)
        for i, w in enumerate(weights, start=1):
            grads["W%d" % i] = grads["W%d" % i] + self.reg * w
        return loss, grads
