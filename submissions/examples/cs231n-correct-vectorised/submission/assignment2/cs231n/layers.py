import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Vectorised versions of everything (no python loops over pixels).
# I try to keep the input dtype everywhere so float32 inputs give float32 outputs.


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b"""
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    x2d = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(x, 0).astype(x.dtype, copy=False)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = np.where(x > 0, dout, 0).astype(dout.dtype, copy=False)
    return dx


def softmax_loss(x, y):
    """Cross-entropy of softmax(x); log-sum-exp with the max pulled out so nothing overflows."""
    N = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    logsumexp = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    log_p = x - logsumexp
    loss = -log_p[np.arange(N), y].mean()
    dx = np.exp(log_p)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)            # biased (ddof=0), like the paper
        std = np.sqrt(var + eps)
        x_norm = (x - mean) / std
        out = gamma * x_norm + beta
        cache = {"x": x, "mean": mean, "var": var, "std": std, "x_norm": x_norm, "gamma": gamma, "eps": eps}

        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backprop with the intermediate derivatives of the paper (dL/dvar, dL/dmean)."""
    x, mean, var, eps = cache["x"], cache["mean"], cache["var"], cache["eps"]
    gamma, x_norm = cache["gamma"], cache["x_norm"]
    N = x.shape[0]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)

    dx_norm = dout * gamma
    xc = x - mean
    dvar = np.sum(dx_norm * xc, axis=0) * -0.5 * (var + eps) ** -1.5
    dmean = np.sum(-dx_norm / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2.0 * xc, axis=0)
    dx = dx_norm / np.sqrt(var + eps) + dvar * 2.0 * xc / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    std, x_norm, gamma = cache["std"], cache["x_norm"], cache["gamma"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)
    g = dout * gamma
    # mean() instead of sum()/N
    dx = (g - g.mean(axis=0) - x_norm * (g * x_norm).mean(axis=0)) / std
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Normalise each example over its own features (axis 1)."""
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    std = np.sqrt(var + eps)
    x_norm = (x - mean) / std
    out = gamma * x_norm + beta
    cache = (x_norm, std, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    x_norm, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)
    g = dout * gamma
    dx = (g - g.mean(axis=1, keepdims=True) - x_norm * (g * x_norm).mean(axis=1, keepdims=True)) / std
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout; p = probability of keeping a unit."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])

    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout


# ----------------------------------------------------------------------------------- conv / pool

def _windows(x_pad, HH, WW, stride):
    """All (HH, WW) windows of x_pad at the given stride: (N, C, H_out, W_out, HH, WW), a view."""
    return sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = _windows(x_pad, HH, WW, stride)
    out = np.einsum("nchwij,fcij->nfhw", win, w, optimize=True) + b[None, :, None, None]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = dout.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = _windows(x_pad, HH, WW, stride)

    db = dout.sum(axis=(0, 2, 3))
    dw = np.einsum("nchwij,nfhw->fcij", win, dout, optimize=True)

    # gradient of every window, then scatter-add them back into the padded input
    dwin = np.einsum("nfhw,fcij->nchwij", dout, w, optimize=True)
    rows = (np.arange(H_out) * stride)[:, None, None, None] + np.arange(HH)[None, None, :, None]
    cols = (np.arange(W_out) * stride)[None, :, None, None] + np.arange(WW)[None, None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)          # (H_out, W_out, HH, WW)
    dx_pad = np.zeros(x_pad.shape, dtype=np.result_type(dout, w))
    np.add.at(dx_pad, (slice(None), slice(None), rows, cols), dwin)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    win = _windows(x, ph, pw, stride)
    out = win.max(axis=(4, 5))
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    win = _windows(x, ph, pw, stride).reshape(N, C, H_out, W_out, ph * pw)
    k = win.argmax(axis=-1)                                # first max in each window
    rows = np.arange(H_out)[:, None] * stride + k // pw    # (N, C, H_out, W_out)
    cols = np.arange(W_out)[None, :] * stride + k % pw
    n_idx = np.arange(N)[:, None, None, None]
    c_idx = np.arange(C)[None, :, None, None]
    dx = np.zeros(x.shape, dtype=dout.dtype)
    np.add.at(dx, (n_idx, c_idx, rows, cols), dout)       # add.at: overlapping windows accumulate
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    flat = np.moveaxis(x, 1, -1).reshape(-1, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    out = np.moveaxis(out.reshape(N, H, W, C), -1, 1)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    flat = np.moveaxis(dout, 1, -1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache)
    dx = np.moveaxis(dx.reshape(N, H, W, C), -1, 1)
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group norm = layer norm over each group of C // G channels (and all pixels)."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    grouped = x.reshape(N * G, -1)
    ln_out, ln_cache = layernorm_forward(grouped, 1.0, 0.0, {"eps": eps})
    x_norm = ln_out.reshape(N, C, H, W)
    out = gamma * x_norm + beta
    cache = (G, x_norm, gamma, ln_cache)
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    G, x_norm, gamma, ln_cache = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_norm).sum(axis=(0, 2, 3), keepdims=True)
    dnorm = (dout * gamma).reshape(N * G, -1)
    dx, _, _ = layernorm_backward(dnorm, ln_cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta
