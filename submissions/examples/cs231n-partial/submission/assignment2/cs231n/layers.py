from builtins import range
import numpy as np

# Assignment 2 -- still working on it, only the fully-connected part is done so far.


def affine_forward(x, w, b):
    """Forward pass of a fully-connected layer: x (N, d_1..d_k), w (D, M), b (M,)."""
    out = None
    # ---------------- my code ----------------
    num_inputs = x.shape[0]
    input_dim = np.prod(x.shape[1:])
    out = np.dot(x.reshape(num_inputs, input_dim), w) + b
    # ------------- end of my code ------------
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of a fully-connected layer."""
    x, w, b = cache
    dx, dw, db = None, None, None
    # ---------------- my code ----------------
    num_inputs = x.shape[0]
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(num_inputs, -1).T, dout)
    db = dout.sum(axis=0)
    # ------------- end of my code ------------
    return dx, dw, db


def relu_forward(x):
    """ReLU forward."""
    out = None
    # ---------------- my code ----------------
    out = np.maximum(0, x)
    # ------------- end of my code ------------
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """ReLU backward."""
    dx, x = None, cache
    # ---------------- my code ----------------
    dx = dout * (x > 0)
    # ------------- end of my code ------------
    return dx


def softmax_loss(x, y):
    """Softmax loss and its gradient."""
    loss, dx = None, None
    # ---------------- my code ----------------
    # TODO
    pass
    # ------------- end of my code ------------
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization forward."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # ---------------- my code ----------------
        # TODO: train-time forward pass
        pass
        # ------------- end of my code ------------
    elif mode == "test":
        # ---------------- my code ----------------
        # TODO: test-time forward pass
        pass
        # ------------- end of my code ------------
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Batch normalization backward (computational graph version)."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    pass
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Batch normalization backward (simplified formula)."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    pass
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization forward."""
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)
    # TODO
    pass
    return out, cache


def layernorm_backward(dout, cache):
    """Layer normalization backward."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    pass
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout forward; p is the keep probability."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])

    mask = None
    out = None
    if mode == "train":
        # TODO: training-time dropout
        pass
    elif mode == "test":
        # TODO: test-time dropout
        pass

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    mode = dropout_param["mode"]

    dx = None
    if mode == "train":
        # TODO
        pass
    elif mode == "test":
        dx = dout
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """Naive convolution forward."""
    raise NotImplementedError("conv_forward_naive: not done yet")


def conv_backward_naive(dout, cache):
    """Naive convolution backward."""
    raise NotImplementedError("conv_backward_naive: not done yet")


def max_pool_forward_naive(x, pool_param):
    """Naive max-pool forward."""
    raise NotImplementedError("max_pool_forward_naive: not done yet")


def max_pool_backward_naive(dout, cache):
    """Naive max-pool backward."""
    raise NotImplementedError("max_pool_backward_naive: not done yet")


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization forward."""
    out, cache = None, None
    # TODO
    pass
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Spatial batch normalization backward."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    pass
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Spatial group normalization forward."""
    out, cache = None, None
    eps = gn_param.get("eps", 1e-5)
    # TODO
    pass
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Spatial group normalization backward."""
    dx, dgamma, dbeta = None, None, None
    # TODO
    pass
    return dx, dgamma, dbeta
