import numpy as np

"""
Update rules for training neural networks. Each one is called as

    next_w, config = update(w, dw, config)

and config is handed back to it on the next iteration (it keeps the learning rate and things like
the velocity between calls). I update everything in place where I can: the arrays in config are
mine after the first call anyway, and w is overwritten by the solver with next_w.
"""


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent (given in the hand-out)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)

    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: the velocity remembers where we were going."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))

    next_w = None
    # v <- mu * v - lr * dw, done in place, entry by entry
    mu = config["momentum"]
    lr = config["learning_rate"]
    v_flat = v.reshape(-1)
    dw_flat = dw.reshape(-1)
    for i in range(v_flat.shape[0]):
        v_flat[i] = mu * v_flat[i] - lr * dw_flat[i]
    w += v
    next_w = w
    config["velocity"] = v

    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: divide the step by a running RMS of the gradients."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))

    next_w = None
    cache = config["cache"]
    decay = config["decay_rate"]
    cache *= decay
    cache += (1 - decay) * dw * dw
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    next_w = w

    return next_w, config


def adam(w, dw, config=None):
    """Adam = momentum on the gradient + RMSProp on its square, with bias correction."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)

    next_w = None
    # the NOTE in the hand-out: t goes up before anything uses it
    config["t"] += 1
    t = config["t"]
    beta1, beta2 = config["beta1"], config["beta2"]
    m, v = config["m"], config["v"]
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * (dw ** 2)
    m_unbiased = m / (1 - beta1 ** t)
    v_unbiased = v / (1 - beta2 ** t)
    w -= config["learning_rate"] * m_unbiased / (np.sqrt(v_unbiased) + config["epsilon"])
    next_w = w

    return next_w, config
