import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss with loops, through the log-sum-exp of each row."""
    num_train, num_classes = X.shape[0], W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = [X[i] @ W[:, j] for j in range(num_classes)]
        top = max(scores)
        log_total = top + np.log(sum(np.exp(s - top) for s in scores))
        loss += log_total - scores[y[i]]
        for j in range(num_classes):
            dW[:, j] += (np.exp(scores[j] - log_total) - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(np.square(W))
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss without loops: log-softmax, one-hot targets."""
    n, c = X.shape[0], W.shape[1]
    scores = X @ W
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    onehot = np.eye(c)[y]
    loss = -(onehot * log_probs).sum() / n + reg * np.sum(W * W)
    dW = X.T @ (np.exp(log_probs) - onehot) / n + 2 * reg * W
    return loss, dW
