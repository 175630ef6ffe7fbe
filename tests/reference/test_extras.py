"""The extras assignment's reference beyond what the registry generates (torch, finite differences, errors are
generated from the specs): adapt_input_conv against a direct, entry-by-entry statement of timm's rule, and
against timm itself where it is installed (it is not a dependency: the test is skipped without it); the
hand-out's conv_param contract.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from graders.specs import registry
from graders.specs.base import Case
from reference.cs231n import extras as R

ADAPT = registry.get("adapt_input_conv")


def timm_rule(in_chans: int, weight: np.ndarray) -> np.ndarray:
    """timm's rule for an RGB weight, one output entry at a time, in float32: channel 0 of a grey weight is the sum
    of the three RGB filters; channel j of any other count c != 3 is RGB filter j mod 3 times 3 / c; c = 3 keeps
    the weight. The result has the input's dtype."""
    w32 = weight.astype(np.float32)
    out_channels, _, kh, kw = w32.shape
    if in_chans == 3:
        return w32.astype(weight.dtype)
    channels = 1 if in_chans == 1 else in_chans
    adapted = np.zeros((out_channels, channels, kh, kw), np.float32)
    for o in range(out_channels):
        for j in range(channels):
            for p in range(kh):
                for q in range(kw):
                    if in_chans == 1:
                        adapted[o, j, p, q] = w32[o, 0, p, q] + w32[o, 1, p, q] + w32[o, 2, p, q]
                    else:
                        adapted[o, j, p, q] = w32[o, j % 3, p, q] * np.float32(3 / in_chans)
    return adapted.astype(weight.dtype)


def _check(case: Case) -> None:
    ours = ADAPT.expected(case)["weight"]
    theirs = timm_rule(case["in_chans"], case["conv_weight"])
    assert ours.dtype == theirs.dtype == case["conv_weight"].dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(case=ADAPT.cases())
def test_adapt_input_conv_is_timms_rule_entry_by_entry(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("index", range(len(ADAPT.fixed_cases())))
def test_adapt_input_conv_notebook_cases_follow_the_rule(index: int) -> None:
    _check(ADAPT.fixed_cases()[index])


def test_adapt_input_conv_matches_timm_where_installed() -> None:
    timm_manipulate = pytest.importorskip("timm.models._manipulate")
    torch = pytest.importorskip("torch")
    weight = np.random.default_rng(3).standard_normal((4, 3, 3, 3)).astype(np.float32)
    for in_chans in (1, 2, 3, 4, 6, 7):
        theirs = timm_manipulate.adapt_input_conv(in_chans, torch.from_numpy(weight.copy())).numpy()
        np.testing.assert_allclose(R.adapt_input_conv(in_chans, weight), theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("forward", [R.conv2d_dilated_forward, R.conv1d_forward])
def test_conv_param_needs_every_key_and_the_cache_is_the_handouts(forward: object) -> None:
    """conv_param must name the dilation (no silent default), and the cache is (x, w, b, conv_param): the grader
    calls a student's backward with exactly that tuple."""
    assert callable(forward)
    rng = np.random.default_rng(0)
    spatial = (5, 5) if forward is R.conv2d_dilated_forward else (5,)
    x, w, b = rng.standard_normal((1, 2, *spatial)), rng.standard_normal((3, 2, *(2,) * len(spatial))), np.zeros(3)
    with pytest.raises(ValueError, match=r"missing \['dilation'\]"):
        forward(x, w, b, {"stride": 1, "pad": 0})
    param = {"stride": 1, "pad": 1, "dilation": 2}
    _, cache = forward(x, w, b, param)
    assert cache[0] is x and cache[1] is w and cache[2] is b and cache[3] is param
