"""The loss, normalisation, dropout and sandwich specs as a grader uses them.

* The reference gets full marks through each spec's own program (the calls a student's code would receive).
* Dropout's rules accept torch's dropout too: they check the mask's distribution and consistency, not a mask.
* Each spec-specific diagnosis names the bug of a small buggy NumPy implementation written here (independent
  of the bug models in the spec modules), and only that bug; the correct reference triggers none.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.sandbox.inprocess import run_case
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from reference.cs231n import layer_utils, layers
from tests.graders.drawn import robustness_cases

REFERENCE = {"layers": layers, "layer_utils": layer_utils}
MY_SPECS = [
    name
    for module in ("losses", "normalization", "dropout", "sandwiches")
    for name in __import__(f"graders.specs.{module}", fromlist=["FACTORIES"]).FACTORIES
]


def runs_of(spec: Spec, cases: Sequence[Case], module: Any) -> list[CaseRun]:
    """Run ``spec`` on each case with the reference's layers, except for the functions ``module`` defines
    (a student who wrote only the function under test, the rest being the hand-out's)."""
    student = SimpleNamespace(**{**vars(layers), **vars(module)})
    return [run_case(spec, case, {**REFERENCE, "layers": student}) for case in cases]


def diagnosed(spec: Spec, runs: Sequence[CaseRun]) -> set[str]:
    return {d.name for d in spec.diagnoses if d.applies(runs)}


def all_passed(runs: Sequence[CaseRun]) -> bool:
    return all(v.passed for r in runs for v in r.verdicts.values())


def failures(runs: Sequence[CaseRun]) -> list[str]:
    return [f"{n}: {v.message}" for r in runs for n, v in r.verdicts.items() if not v.passed] + [
        r.error for r in runs if r.error
    ]


# ---------------------------------------------------------------- the reference passes its own programs
@pytest.mark.parametrize("name", MY_SPECS)
def test_reference_gets_full_marks_on_fixed_cases(name: str) -> None:
    spec = registry.get(name)
    runs = [run_case(spec, case, REFERENCE) for case in spec.fixed_cases()]
    assert runs and all_passed(runs), failures(runs)
    assert diagnosed(spec, runs) == set()


@pytest.mark.parametrize("name", MY_SPECS)
@settings(max_examples=5)
@given(data=st.data())
def test_reference_gets_full_marks_on_property_cases(name: str, data: st.DataObject) -> None:
    spec = registry.get(name)
    run = run_case(spec, data.draw(spec.cases()), REFERENCE)
    assert all_passed([run]), failures([run])


def test_old_dropout_convention_is_a_factory_option() -> None:
    """A 2016-17 dropout (p = drop probability) passes p_is="drop" and is diagnosed under "keep"."""

    def dropout_forward(x: np.ndarray, param: dict[str, Any]) -> tuple[np.ndarray, Any]:
        if "seed" in param:
            np.random.seed(param["seed"])
        if param["mode"] == "test":
            return x, (param, None)
        mask = (np.random.rand(*x.shape) >= param["p"]) / (1 - param["p"])
        return x * mask, (param, mask)

    old = SimpleNamespace(dropout_forward=dropout_forward)
    cases = registry.get("dropout_forward").fixed_cases()
    assert all_passed(runs_of(registry.get("dropout_forward", p_is="drop"), cases, old))
    new_spec = registry.get("dropout_forward")
    runs = runs_of(new_spec, cases, old)
    assert not all_passed(runs)
    assert diagnosed(new_spec, runs) == {"p taken as drop probability"}
    # and the current convention, graded as if it were an old hand-out, is named the other way round
    drop_spec = registry.get("dropout_forward", p_is="drop")
    assert diagnosed(drop_spec, runs_of(drop_spec, cases, layers)) == {"p taken as keep probability"}


# ---------------------------------------------------------------- dropout: torch obeys the same rules
def torch_dropout_outputs(case: Case) -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    x = torch.tensor(case["x"], requires_grad=True)
    drop = 1.0 - case["dropout_param"]["p"]
    seed = case["dropout_param"]["seed"]
    torch.manual_seed(seed)
    out = torch.nn.functional.dropout(x, drop, training=True)
    torch.manual_seed(seed)
    again = torch.nn.functional.dropout(x, drop, training=True)
    torch.manual_seed(case["other_param"]["seed"])
    other = torch.nn.functional.dropout(x, drop, training=True)
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None
    test = torch.nn.functional.dropout(x, drop, training=False)
    return {
        "out": out.detach().numpy(),
        "out_again": again.detach().numpy(),
        "out_other": other.detach().numpy(),
        "out_test": test.detach().numpy(),
        "dx": x.grad.numpy(),
        "dx_test": case["dout"],
    }


@settings(max_examples=8)
@given(data=st.data())
def test_torch_dropout_satisfies_the_mask_identities(data: st.DataObject) -> None:
    forward, backward = registry.get("dropout_forward"), registry.get("dropout_backward")
    case = data.draw(st.one_of(st.sampled_from(forward.fixed_cases()), forward.cases()))
    actual = torch_dropout_outputs(case)
    for spec in (forward, backward):
        expected = spec.expected(copy.deepcopy(case))
        for check in spec.checks:
            assert check.compare is not None
            verdict = check.compare(case, actual, expected, check)
            assert verdict.passed, f"torch fails {spec.name}.{check.name}: {verdict.message}"


# ---------------------------------------------------------------- buggy implementations
def mean_var(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0)


def buggy_batchnorm(bug: str) -> Callable[..., tuple[np.ndarray, Any]]:
    """A batchnorm_forward in the notebook's style, with one bug (or none for bug="")."""

    def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict) -> tuple:
        mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        if bug == "eps default":
            eps = 1e-5
        d = x.shape[1]
        running_mean = bn_param.get("running_mean", np.zeros(d))
        running_var = bn_param.get("running_var", np.zeros(d))
        if bug == "restart":
            running_mean, running_var = np.zeros(d), np.zeros(d)
        if mode == "train" or bug == "test batch":
            mean, var = mean_var(x)
        else:
            mean, var = running_mean, running_var
        if bug == "eps ignored":
            xhat = (x - mean) / np.sqrt(var)
        elif bug == "eps outside":
            xhat = (x - mean) / (np.sqrt(var) + eps)
        else:
            xhat = (x - mean) / np.sqrt(var + eps)
        if mode == "train":
            batch_var = var * x.shape[0] / (x.shape[0] - 1) if bug == "unbiased" else var
            keep = 1 - momentum if bug == "swapped" else momentum
            running_mean = keep * running_mean + (1 - keep) * mean
            running_var = keep * running_var + (1 - keep) * batch_var
        if bug != "not stored":
            bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
        return gamma * xhat + beta, (xhat, gamma, x.shape[0])

    return batchnorm_forward


def spatial_from(
    batchnorm_forward: Callable[..., tuple], plain_reshape: bool = False
) -> Callable[..., tuple]:
    def spatial_batchnorm_forward(
        x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
    ) -> tuple:
        n, c, h, w = x.shape
        rows = x.reshape(-1, c) if plain_reshape else x.transpose(0, 2, 3, 1).reshape(-1, c)
        out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
        if plain_reshape:
            return out.reshape(x.shape), cache
        return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache

    return spatial_batchnorm_forward


def bn_forward_cases(spec: Spec) -> list[Case]:
    """The notebook case, and the same with non-default eps and momentum (so eps/momentum bugs show)."""
    notebook = spec.fixed_cases()[0]
    tuned = copy.deepcopy(notebook)
    tuned["bn_param"].update(eps=1e-3, momentum=0.7)
    small = copy.deepcopy(tuned)
    small["xs"] = small["xs"] * 0.05  # variance comparable to eps
    small["x_test"] = small["x_test"] * 0.05
    return [notebook, tuned, small]


BN_BUGS = {
    "swapped": "momentum swapped",
    "unbiased": "unbiased running variance",
    "not stored": "running statistics not stored",
    "restart": "running statistics restarted",
    "test batch": "test mode uses batch statistics",
    "eps ignored": "eps ignored",
    "eps outside": "eps outside the square root",
    "eps default": "eps from bn_param ignored",
}


@pytest.mark.parametrize("bug", sorted(BN_BUGS))
def test_batchnorm_forward_bugs_are_named(bug: str) -> None:
    spec = registry.get("batchnorm_forward")
    runs = runs_of(spec, bn_forward_cases(spec), SimpleNamespace(batchnorm_forward=buggy_batchnorm(bug)))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {BN_BUGS[bug]}


@pytest.mark.parametrize("bug", ["swapped", "eps outside", "plain reshape"])
def test_spatial_batchnorm_forward_bugs_are_named(bug: str) -> None:
    spec = registry.get("spatial_batchnorm_forward")
    if bug == "plain reshape":
        forward, name = spatial_from(buggy_batchnorm(""), plain_reshape=True), "channels not moved last"
    else:
        forward, name = spatial_from(buggy_batchnorm(bug)), BN_BUGS[bug]
    runs = runs_of(spec, bn_forward_cases(spec), SimpleNamespace(spatial_batchnorm_forward=forward))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {name}


def test_a_correct_notebook_style_batchnorm_passes() -> None:
    spec = registry.get("batchnorm_forward")
    assert all_passed(
        runs_of(spec, bn_forward_cases(spec), SimpleNamespace(batchnorm_forward=buggy_batchnorm("")))
    )


def scaled_backward(
    backward: Callable[..., tuple], factors: Callable[[Any], tuple[float, float, float]]
) -> Callable:
    def wrapped(dout: np.ndarray, cache: Any) -> tuple:
        return tuple(g * f for g, f in zip(backward(dout, cache), factors(dout), strict=True))

    return wrapped


@pytest.mark.parametrize(
    "name, count",
    [
        ("batchnorm_backward", lambda d: d.shape[0]),
        ("batchnorm_backward_alt", lambda d: d.shape[0]),
        ("spatial_batchnorm_backward", lambda d: d.shape[0] * d.shape[2] * d.shape[3]),
        ("layernorm_backward", lambda d: d.shape[1]),
        ("spatial_groupnorm_backward", lambda d: d.shape[1] // 2 * d.shape[2] * d.shape[3]),
    ],
)
@pytest.mark.parametrize(
    "bug, factors",
    [
        ("dx off by the count", lambda n: (n, 1, 1)),
        ("dx divided by the count", lambda n: (1 / n, 1, 1)),
        ("dgamma averaged", lambda n: (1, 1 / n, 1 / n)),
    ],
)
def test_backward_factor_bugs_are_named(name: str, count: Callable, bug: str, factors: Callable) -> None:
    spec = registry.get(name)
    buggy = scaled_backward(getattr(layers, name), lambda dout: factors(count(dout)))
    runs = runs_of(spec, spec.fixed_cases(), SimpleNamespace(**{name: buggy}))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {bug}


def test_groupnorm_flat_dgamma_is_named() -> None:
    spec = registry.get("spatial_groupnorm_backward")

    def flat(dout: np.ndarray, cache: Any) -> tuple:
        dx, dgamma, dbeta = layers.spatial_groupnorm_backward(dout, cache)
        return dx, dgamma.reshape(-1), dbeta.reshape(-1)

    runs = runs_of(spec, spec.fixed_cases(), SimpleNamespace(spatial_groupnorm_backward=flat))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {"dgamma of shape (C,)"}


def test_layernorm_over_the_batch_is_named() -> None:
    spec = registry.get("layernorm_forward")

    def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict) -> tuple:
        mean, var = mean_var(x)
        return gamma * (x - mean) / np.sqrt(var + ln_param.get("eps", 1e-5)) + beta, None

    runs = runs_of(spec, spec.fixed_cases(), SimpleNamespace(layernorm_forward=layernorm_forward))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {"layer norm over the batch"}


# ---------------------------------------------------------------- losses
def naive_softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    with np.errstate(all="ignore"):
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(len(y)), y]).mean()
    dx = p.copy()
    dx[np.arange(len(y)), y] -= 1
    return loss, dx / len(y)


def summed(loss_fn: Callable[..., tuple[float, np.ndarray]]) -> Callable[..., tuple[float, np.ndarray]]:
    def loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        value, dx = loss_fn(x, y)
        return value * len(y), dx * len(y)

    return loss


def counts_correct_class(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    loss, dx = layers.svm_loss(x, y)
    return loss + 1.0, dx


@pytest.mark.parametrize(
    "name, implementation, bug",
    [
        ("softmax_loss", naive_softmax_loss, "softmax overflow"),
        ("softmax_loss", summed(layers.softmax_loss), "loss summed over the batch"),
        ("svm_loss", summed(layers.svm_loss), "loss summed over the batch"),
        ("svm_loss", counts_correct_class, "correct class counted in the hinge"),
    ],
)
def test_loss_bugs_are_named(name: str, implementation: Callable, bug: str) -> None:
    spec = registry.get(name)
    cases = [*spec.fixed_cases(), *robustness_cases(spec)]
    runs = runs_of(spec, cases, SimpleNamespace(**{name: implementation}))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {bug}


def test_naive_softmax_passes_the_main_cases_and_fails_only_at_large_scores() -> None:
    spec = registry.get("softmax_loss")
    student = SimpleNamespace(softmax_loss=naive_softmax_loss)
    assert all_passed(runs_of(spec, spec.fixed_cases(), student))
    large = next(check for check in spec.robustness if check.name == "large_scores")
    assert not all_passed(runs_of(spec, large.cases(), student))


# ---------------------------------------------------------------- dropout
def dropout_module(
    keep: Callable[[float], float], scale: bool = True, seeded: bool = True, mask_in_backward: bool = True
) -> SimpleNamespace:
    def dropout_forward(x: np.ndarray, param: dict) -> tuple:
        if seeded and "seed" in param:
            np.random.seed(param["seed"])
        if param["mode"] == "test":
            return x.copy(), (param, None)
        p = keep(param["p"])
        mask = np.random.binomial(1, p, size=x.shape) / (p if scale else 1.0)
        return x * mask, (param, mask)

    def dropout_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
        _, mask = cache
        return dout if mask is None or not mask_in_backward else dout * mask

    return SimpleNamespace(dropout_forward=dropout_forward, dropout_backward=dropout_backward)


def test_binomial_dropout_passes() -> None:
    cases = registry.get("dropout_forward").fixed_cases()
    module = dropout_module(lambda p: p)
    for name in ("dropout_forward", "dropout_backward"):
        assert all_passed(runs_of(registry.get(name), cases, module))


@pytest.mark.parametrize(
    "module, bug",
    [
        (dropout_module(lambda p: p, scale=False), "not inverted"),
        (dropout_module(lambda p: 1 - p), "p taken as drop probability"),
        (dropout_module(lambda p: p, seeded=False), "seed ignored"),
    ],
)
def test_dropout_forward_bugs_are_named(module: SimpleNamespace, bug: str) -> None:
    spec = registry.get("dropout_forward")
    runs = runs_of(spec, registry.get("dropout_forward").fixed_cases(), module)
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {bug}


def test_dropout_backward_without_the_mask_is_named() -> None:
    spec = registry.get("dropout_backward")
    cases = registry.get("dropout_forward").fixed_cases()
    runs = runs_of(spec, cases, dropout_module(lambda p: p, mask_in_backward=False))
    assert not all_passed(runs)
    assert diagnosed(spec, runs) == {"mask not applied in backward"}


# ---------------------------------------------------------------- sandwiches: domain guards
def test_sandwich_cases_keep_relu_inputs_and_pool_maxima_clear_of_kinks() -> None:
    from graders.specs.sandwiches import cases as SW

    spec = registry.get("conv_relu_pool_backward")

    @settings(max_examples=15)
    @given(spec.cases())
    def check(case: Case) -> None:
        a = layers_conv(case)
        assert np.min(np.abs(a)) >= SW.MARGIN
        assert SW.pool_windows_clear(np.maximum(a, 0))
        assert a.shape[2] % 2 == 0 and a.shape[3] % 2 == 0

    check()


def layers_conv(case: Case) -> np.ndarray:
    from reference import cs231n as R

    return R.conv_forward_fast(case["x"], case["w"], case["b"], case["conv_param"])[0]
