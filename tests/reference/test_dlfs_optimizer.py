"""The book's update rules (reference/optimizer.py) against what torch cannot check, and the facts the specs
rely on: Nesterov's book form against a closed form of its first two steps, the paper's form (accepted) against
torch's nesterov=True, Adam's folded bias correction against the explicit one with a rescaled eps, and the
book's defaults and lazily created state. (SGD, Momentum, AdaGrad, RMSprop and Adam against torch.optim are
generated from the specs: tests/reference/test_registry.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from graders.specs import registry
from graders.specs.dlfs.optimizer_bugs import ACCEPTED
from graders.specs.dlfs.optimizer_torch import nesterov_paper_torch
from reference import optimizer as R

RNG = np.random.default_rng(5)
W, G1, G2 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))


def test_nesterov_book_form_first_two_steps() -> None:
    lr, mu = 0.1, 0.8
    params = {"W": W.copy()}
    opt = R.Nesterov(lr=lr, momentum=mu)
    opt.update(params, {"W": G1})
    v1 = -lr * G1
    p1 = W + mu * mu * v1 - (1 + mu) * lr * G1
    np.testing.assert_allclose(params["W"], p1, rtol=1e-14, atol=1e-15)
    opt.update(params, {"W": G2})
    v2 = mu * v1 - lr * G2
    np.testing.assert_allclose(params["W"], p1 + mu * mu * v2 - (1 + mu) * lr * G2, rtol=1e-14, atol=1e-15)


def test_the_paper_nesterov_is_torchs_and_not_the_books() -> None:
    spec = registry.get("Nesterov")
    for named in spec.notebook():
        paper = ACCEPTED["Nesterov"].outputs(named.inputs)
        torch = nesterov_paper_torch(named.inputs)
        book = spec.expected(named.inputs)
        for key, value in torch.items():
            np.testing.assert_allclose(paper[key], value, rtol=1e-10, atol=1e-13)
        assert all(not np.allclose(book[k], paper[k], rtol=1e-12, atol=0) for k in book)


def test_adam_folded_equals_explicit_correction_with_scaled_eps() -> None:
    lr, b1, b2 = 0.01, 0.9, 0.999
    params = {"W": W.copy()}
    opt = R.Adam(lr=lr, beta1=b1, beta2=b2)
    m = v = np.zeros_like(W)
    p = W.copy()
    for t, g in enumerate((G1, G2, 1e-5 * G1), 1):
        opt.update(params, {"W": g})
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        eps = R.EPS / np.sqrt(1 - b2**t)
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(params["W"], p, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(R.DEFAULTS))
def test_defaults_and_lazy_state(name: str) -> None:
    opt = getattr(R, name)()
    for key, value in R.DEFAULTS[name].items():
        assert getattr(opt, key) == value
    assert all(getattr(opt, state, None) is None for state in ("v", "h", "m"))
    params = {"W": W.copy(), "b": np.zeros(4)}
    opt.update(params, {"W": G1, "b": np.ones(4)})
    assert not np.array_equal(params["W"], W)


def test_a_gradient_of_another_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        R.SGD().update({"W": W.copy()}, {"W": G1.T})
