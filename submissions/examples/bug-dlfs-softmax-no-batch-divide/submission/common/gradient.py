# coding: utf-8
# Numerical differentiation (chapter 4), used to check the gradients of back-propagation.
import numpy as np


def numerical_diff(f, x):
    h = 1e-4  # 0.0001
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f, x):
    h = 1e-4  # 0.0001
    grad = np.zeros_like(x)

    # every index of x, whatever its shape (a bias vector, a weight matrix, conv filters)
    for idx in np.ndindex(*x.shape):
        original = x[idx]

        x[idx] = original + h
        f_plus = f(x)   # f(x+h)

        x[idx] = original - h
        f_minus = f(x)  # f(x-h)

        grad[idx] = (f_plus - f_minus) / (2 * h)
        x[idx] = original  # put the value back

    return grad


def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x
