from builtins import range
import numpy as np


def affine_forward(x, w, b):
    """Computes the forward pass for an affine (fully connected) layer.

    x: (N, d_1, ..., d_k), w: (D, M), b: (M,)
    Returns out (N, M) and cache (x, w, b).
    """
    out = None
    # flatten every example into one row, D = d_1 * ... * d_k
    N = x.shape[0]
    x_rows = x.reshape(N, -1)
    out = x_rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass for an affine layer. Returns dx (same shape as x), dw, db."""
    x, w, b = cache
    dx, dw, db = None, None, None
    N = x.shape[0]
    x_rows = x.reshape(N, -1)

    dx = dout.dot(w.T)          # (N, D)
    dx = dx.reshape(x.shape)    # back to (N, d1, ..., dk)
    dw = x_rows.T.dot(dout)     # (D, M)
    db = np.sum(dout, axis=0)   # (M,)
    return dx, dw, db


def relu_forward(x):
    """Forward pass for ReLU. Returns out and cache = x."""
    out = None
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass for ReLU.

    I just zero the upstream gradient where the input was negative
    (x == 0 counts as "on", the subgradient there can be anything in [0, 1]).
    """
    dx, x = None, cache
    dout[x < 0] = 0    # reuse dout's memory, no need for a new array
    dx = dout
    return dx


def softmax_loss(x, y):
    """Softmax loss and gradient. x: (N, C) scores, y: (N,) labels. Returns (loss, dx)."""
    loss, dx = None, None
    N = x.shape[0]

    # subtract the max of each row first, otherwise exp blows up for big scores
    shifted = x - np.max(x, axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    log_probs = shifted - np.log(sums)

    loss = 0.0
    for i in range(N):
        loss -= log_probs[i, y[i]]
    loss /= N

    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass for batch normalization.

    train mode: normalise with the minibatch mean/var, keep exponential running averages.
    test mode: normalise with the running averages.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # step by step, like the computational graph in the notes
        mu = 1.0 / N * np.sum(x, axis=0)          # 1. mean
        xmu = x - mu                              # 2. centre
        sq = xmu ** 2                             # 3.
        var = 1.0 / N * np.sum(sq, axis=0)        # 4. variance (biased)
        sqrtvar = np.sqrt(var + eps)              # 5.
        ivar = 1.0 / sqrtvar                      # 6.
        xhat = xmu * ivar                         # 7. normalised
        gammax = gamma * xhat                     # 8.
        out = gammax + beta                       # 9.

        # momentum = how much of the new batch statistics we take
        running_mean = (1 - momentum) * running_mean + momentum * mu
        running_var = (1 - momentum) * running_var + momentum * var

        cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    # Store the updated running means back into bn_param
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass for batch normalization, going back through the graph one node at a time."""
    dx, dgamma, dbeta = None, None, None
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N, D = dout.shape

    # 9.
    dbeta = np.sum(dout, axis=0)
    dgammax = dout
    # 8.
    dgamma = np.sum(dgammax * xhat, axis=0)
    dxhat = dgammax * gamma
    # 7.
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    # 6.
    dsqrtvar = -1.0 / (sqrtvar ** 2) * divar
    # 5.
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    # 4.
    dsq = 1.0 / N * np.ones((N, D)) * dvar
    # 3.
    dxmu2 = 2 * xmu * dsq
    # 2.
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    # 1.
    dx2 = 1.0 / N * np.ones((N, D)) * dmu
    dx = dx1 + dx2
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Same as batchnorm_backward but with the simplified formula I worked out on paper:

    dx = 1/N * gamma * ivar * (N*dout - sum(dout) - xhat * sum(dout * xhat))
    """
    dx, dgamma, dbeta = None, None, None
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N = dout.shape[0]

    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = (1.0 / N) * gamma * ivar * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass for layer normalization.

    Layer norm is batch norm on the transposed input (normalise each row over its features),
    so I transpose, do the same steps as in batchnorm, and transpose back.
    """
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)

    xT = x.T                      # (D, N): now every column is one example
    D = xT.shape[0]
    mu = np.sum(xT, axis=0) / D
    xmu = xT - mu
    var = np.sum(xmu ** 2, axis=0) / D
    ivar = 1.0 / np.sqrt(var + eps)
    xhatT = xmu * ivar
    xhat = xhatT.T                # back to (N, D)
    out = gamma * xhat + beta

    cache = (xhatT, gamma, ivar)
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass for layer normalization (the batchnorm_backward_alt formula on the transposed data)."""
    dx, dgamma, dbeta = None, None, None
    xhatT, gamma, ivar = cache
    xhat = xhatT.T

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)

    dxhatT = (dout * gamma).T     # (D, N)
    D = dxhatT.shape[0]
    dxT = (1.0 / D) * ivar * (D * dxhatT - np.sum(dxhatT, axis=0) - xhatT * np.sum(dxhatT * xhatT, axis=0))
    dx = dxT.T
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Forward pass for (inverted) dropout. p is the probability of KEEPING a neuron."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])

    mask = None
    out = None

    if mode == "train":
        # each unit survives with probability p, and survivors are scaled up by 1/p
        mask = np.random.binomial(1, p, size=x.shape) / p
        out = x * mask
    elif mode == "test":
        out = x

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    """Backward pass for (inverted) dropout."""
    dropout_param, mask = cache
    mode = dropout_param["mode"]

    dx = None
    if mode == "train":
        dx = dout * mask
    elif mode == "test":
        dx = dout
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """Naive forward pass for a convolutional layer.

    x: (N, C, H, W), w: (F, C, HH, WW), b: (F,)
    conv_param: 'stride', 'pad'
    out: (N, F, H', W') with H' = 1 + (H + 2 * pad - HH) / stride
    """
    out = None
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape

    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride

    # zero padding only on the two spatial axes
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")

    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):                  # every image
        for f in range(F):              # every filter
            for i in range(H_out):      # every output row
                for j in range(W_out):  # every output column
                    total = b[f]
                    for c in range(C):  # add up the channels one by one
                        window = x_pad[n, c, i * stride:i * stride + HH, j * stride:j * stride + WW]
                        total += np.sum(window * w[f, c])
                    out[n, f, i, j] = total
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Naive backward pass for a convolutional layer. Returns dx, dw, db."""
    dx, dw, db = None, None, None
    x, w, b, conv_param = cache
    stride = conv_param["stride"]
    pad = conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)

    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    top = i * stride
                    left = j * stride
                    g = dout[n, f, i, j]
                    db[f] += g
                    dw[f] += x_pad[n, :, top:top + HH, left:left + WW] * g
                    dx_pad[n, :, top:top + HH, left:left + WW] += w[f] * g

    # cut the padding off again
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Naive forward pass for a max-pooling layer (no padding)."""
    out = None
    ph = pool_param["pool_height"]
    pw = pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride

    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    out[n, c, i, j] = np.max(window)
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Naive backward pass for a max-pooling layer.

    If several entries of a window are tied for the max I split the gradient equally between
    them (any split is a valid subgradient).
    """
    dx = None
    x, pool_param = cache
    ph = pool_param["pool_height"]
    pw = pool_param["pool_width"]
    stride = pool_param["stride"]
    N, C, H_out, W_out = dout.shape

    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    is_max = window == np.max(window)
                    share = dout[n, c, i, j] / np.sum(is_max)
                    # += because windows can overlap when stride < pool size
                    dx[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw] += is_max * share
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch norm: every channel is one feature, N*H*W samples of it."""
    out, cache = None, None
    N, C, H, W = x.shape
    # (N, C, H, W) -> (N, H, W, C) -> (N*H*W, C) so the channel is the feature axis
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass for spatial batch normalization."""
    dx, dgamma, dbeta = None, None, None
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = batchnorm_backward_alt(dout_flat, cache)
    dx = dx_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Spatial group normalization: the C channels are split into G groups of C // G consecutive
    channels, and each (example, group) is normalised over its channels and pixels."""
    out, cache = None, None
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape

    xg = x.reshape(N, G, C // G, H, W)
    mean = xg.mean(axis=(2, 3, 4), keepdims=True)
    var = xg.var(axis=(2, 3, 4), keepdims=True)
    ivar = 1.0 / np.sqrt(var + eps)
    xhat_g = (xg - mean) * ivar
    xhat = xhat_g.reshape(N, C, H, W)
    out = gamma * xhat + beta          # gamma, beta are (1, C, 1, 1)

    cache = (G, xhat, gamma, ivar)
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Backward pass for spatial group normalization."""
    dx, dgamma, dbeta = None, None, None
    G, xhat, gamma, ivar = cache
    N, C, H, W = dout.shape

    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * xhat, axis=(0, 2, 3), keepdims=True)

    # same formula as batchnorm_backward_alt, but the "batch" is every value in a group
    M = (C // G) * H * W
    dxhat = (dout * gamma).reshape(N, G, C // G, H, W)
    xhat_g = xhat.reshape(N, G, C // G, H, W)
    sum_dxhat = dxhat.sum(axis=(2, 3, 4), keepdims=True)
    sum_dxhat_xhat = (dxhat * xhat_g).sum(axis=(2, 3, 4), keepdims=True)
    dx_g = (1.0 / M) * ivar * (M * dxhat - sum_dxhat - xhat_g * sum_dxhat_xhat)
    dx = dx_g.reshape(N, C, H, W)
    return dx, dgamma, dbeta
