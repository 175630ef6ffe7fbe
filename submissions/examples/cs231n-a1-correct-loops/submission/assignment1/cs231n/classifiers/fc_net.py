from builtins import range
from builtins import object
import numpy as np

from ..layers import *


class TwoLayerNet(object):
    """
    A two-layer fully-connected neural network with ReLU nonlinearity and
    softmax loss: affine - relu - affine - softmax.
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {}
        self.reg = reg

        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        scores = None
        hidden, affine1_cache = affine_forward(X, self.params["W1"], self.params["b1"])
        activated, relu_cache = relu_forward(hidden)
        scores, affine2_cache = affine_forward(activated, self.params["W2"], self.params["b2"])

        # If y is None then we are in test mode so just return scores
        if y is None:
            return scores

        loss, grads = 0, {}
        loss, dscores = softmax_loss(scores, y)
        W1, W2 = self.params["W1"], self.params["W2"]
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        dactivated, grads["W2"], grads["b2"] = affine_backward(dscores, affine2_cache)
        dhidden = relu_backward(dactivated, relu_cache)
        dx, grads["W1"], grads["b1"] = affine_backward(dhidden, affine1_cache)
        grads["W2"] += self.reg * W2
        grads["W1"] += self.reg * W1

        return loss, grads
