import numpy as np

from ..layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


class TwoLayerNet:
    """affine - relu - affine - softmax, parameters in self.params."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.reg = reg
        self.params = {
            "W1": np.random.normal(0.0, weight_scale, (input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": np.random.normal(0.0, weight_scale, (hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        p = self.params
        h, cache1 = affine_forward(X, p["W1"], p["b1"])
        a, cache_relu = relu_forward(h)
        scores, cache2 = affine_forward(a, p["W2"], p["b2"])
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        loss = data_loss + 0.5 * self.reg * sum(np.sum(p[k] ** 2) for k in ("W1", "W2"))
        grads = {}
        da, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
        _, grads["W1"], grads["b1"] = affine_backward(relu_backward(da, cache_relu), cache1)
        for k in ("W1", "W2"):
            grads[k] = grads[k] + self.reg * p[k]
        return loss, grads
