import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss with explicit loops over examples and classes."""
    num_train, num_classes = X.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = W.T @ X[i]
        positives = 0
        for j in range(num_classes):
            if j != y[i]:
                margin = scores[j] - scores[y[i]] + 1.0
                if margin >= 0:
                    loss += margin
                    dW[:, j] += X[i] / num_train
                    positives += 1
        dW[:, y[i]] -= positives * X[i] / num_train
    loss = loss / num_train + reg * np.sum(W * W)
    dW += reg * 2 * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss without loops: hinge through a boolean mask, gradient through one matrix product."""
    n = X.shape[0]
    scores = X @ W
    rows = np.arange(n)
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    active = margins > 0
    loss = margins[active].sum() / n + reg * (W ** 2).sum()
    coefficients = active.astype(W.dtype)
    np.subtract.at(coefficients, (rows, y), active.sum(axis=1))
    dW = X.T @ coefficients / n + 2 * reg * W
    return loss, dW
