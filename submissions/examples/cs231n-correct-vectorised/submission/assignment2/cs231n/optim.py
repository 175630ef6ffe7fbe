import numpy as np

# First-order update rules. Each returns a brand-new w and a brand-new config dict (nothing passed in is
# modified), so the caller can keep the old ones around if it wants to.


def _with_defaults(config, **defaults):
    merged = dict(defaults)
    if config:
        merged.update(config)
    return merged


def sgd(w, dw, config=None):
    """w - lr * dw"""
    config = _with_defaults(config, learning_rate=1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """velocity = momentum * velocity - lr * dw; w + velocity"""
    config = _with_defaults(config, learning_rate=1e-2, momentum=0.9)
    velocity = config.get("velocity")
    if velocity is None:
        velocity = np.zeros_like(w)
    velocity = config["momentum"] * velocity - config["learning_rate"] * dw
    config["velocity"] = velocity
    return w + velocity, config


def rmsprop(w, dw, config=None):
    """cache = d * cache + (1 - d) * dw^2; w - lr * dw / (sqrt(cache) + eps)"""
    config = _with_defaults(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    d = config["decay_rate"]
    cache = config.get("cache", 0.0)
    cache = cache + (1.0 - d) * (np.square(dw) - cache)  # same as d * cache + (1 - d) * dw^2
    config["cache"] = cache
    step = config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    return w - step, config


def adam(w, dw, config=None):
    """Adam with bias-corrected first and second moments (t counts from 1)."""
    config = _with_defaults(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0)
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * np.square(dw)
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config.update(m=m, v=v, t=t)
    return next_w, config
