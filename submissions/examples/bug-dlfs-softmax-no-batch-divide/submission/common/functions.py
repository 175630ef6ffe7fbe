# coding: utf-8
# Activation and loss functions from chapters 3 and 4, gathered in one file so the layers can import them.
import numpy as np


def identity_function(x):
    return x


def step_function(x):
    return (x > 0).astype(np.int64)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def relu(x):
    return np.maximum(0, x)


def relu_grad(x):
    return (x > 0).astype(np.float64)


def softmax(a):
    # subtract the largest score of each row first: exp() of a big number overflows (inf / inf = nan)
    c = np.max(a, axis=-1, keepdims=True)
    exp_a = np.exp(a - c)
    sum_exp_a = np.sum(exp_a, axis=-1, keepdims=True)
    return exp_a / sum_exp_a


def mean_squared_error(y, t):
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    delta = 1e-7  # keeps log() away from log(0) = -inf
    if y.ndim == 1:
        # one example: make it a batch of one
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # one-hot labels -> index of the correct class
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    correct = y[np.arange(batch_size), t.reshape(-1)]
    return -np.sum(np.log(correct + delta)) / batch_size


def softmax_loss(X, t):
    y = softmax(X)
    return cross_entropy_error(y, t)
