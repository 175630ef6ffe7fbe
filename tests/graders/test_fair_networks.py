"""Fair verdicts for the cs231n network classes (graders/specs/fc_net.py, graders/specs/cnn.py).

* FullyConnectedNet with dropout is judged on the masks its own dropout layer draws for the seed: a network on
  any correct dropout (rand < p, binomial, a Generator, a fixed count) gets full marks; one that leaves dropout
  out loses its loss check, named. The probe the program uses (the student's dropout_forward on ones of each
  hidden layer's shape) gives exactly the masks the network applies.
* Gradients that differ from the reference's because of a layer's slip are re-judged against finite
  differences of the student's own loss, and kept when they are right for that loss; made-up gradients are not.
* ThreeLayerConvNet: a wrong W2 shape from __init__ costs the init check alone (the case's parameters replace
  a misfit instead of being written into it), and the diagnosis names it.

The student code here is written for these tests: the reference network with one part swapped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from graders.backward import OWN_FORWARD
from graders.function_report import judged_by_note
from graders.sandbox.inprocess import run_case
from graders.specs import fc_net as FC
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from reference.cs231n import cnn as reference_cnn
from reference.cs231n import fc_net as reference_fc_net
from reference.cs231n import layers
from tests.graders.drawn import main_cases
from tests.graders.dropout_masks import Mask, binomial_mask, choice_mask, forward_with, generator_mask, rand_mask
from tests.graders.reference_modules import CS231N


def student(dropout_forward: Callable[..., Any] | None = None, **net_functions: Callable[..., Any]
            ) -> dict[str, Any]:
    """The reference's modules, with ``dropout_forward`` as the student's layers.py one (the network calls it
    too) and the network's module (a fresh copy of the reference's: the grader's reference stays as it is)
    calling ``net_functions`` instead of the reference's layers."""
    loaded = importlib.util.spec_from_file_location("student_fc_net", reference_fc_net.__file__)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    extra = {"dropout_forward": dropout_forward} if dropout_forward is not None else {}
    for name, function in {**extra, **net_functions}.items():
        setattr(module, name, function)
    return {**CS231N, "fc_net": module, "layers": SimpleNamespace(**{**vars(layers), **extra})}


def dropout_cases(spec: Spec) -> list[Case]:
    cases = [c for c in [*spec.fixed_cases(), *main_cases(spec, 40)] if FC.uses_dropout(c)]
    assert len(cases) >= 5
    return cases


def failing(runs: Sequence[CaseRun]) -> dict[str, str]:
    return {name: v.message for r in runs for name, v in r.verdicts.items() if not v.passed}


@pytest.mark.parametrize("mask", [rand_mask, binomial_mask, generator_mask, choice_mask], ids=lambda m: m.__name__)
def test_a_network_on_any_correct_dropout_gets_full_marks(mask: Mask) -> None:
    spec = registry.get("FullyConnectedNet")
    modules = student(forward_with(mask))
    runs = [run_case(spec, case, modules) for case in dropout_cases(spec)]
    assert not failing(runs)
    assert all(not r.judged_by for r in runs), "judged against the reference on the student's masks, not by FD"


def test_a_network_that_leaves_dropout_out_loses_the_loss_named() -> None:
    spec = registry.get("FullyConnectedNet")
    modules = student(forward_with(rand_mask))
    modules["fc_net"].dropout_forward = lambda x, param: (x, (param, None))
    runs = [run_case(spec, case, modules) for case in dropout_cases(spec)]
    assert {"loss", "grads"} <= set(failing(runs)) and "scores" not in failing(runs)
    assert {d.name for d in spec.diagnoses if d.applies(runs)} == {"dropout_not_applied"}


def test_the_probe_gives_the_masks_the_network_applies() -> None:
    """The reference network run on the masks its dropout_forward gives ones of each layer's shape is the
    network that draws them itself: what makes judging a student's network on their probed masks exact."""
    for case in dropout_cases(registry.get("FullyConnectedNet")):
        net = FC._reference(case)
        drawn = net.loss(case["X"], case["y"])
        given = net.loss(case["X"], case["y"], dropout_masks=FC.reference_masks(case))
        assert drawn[0] == given[0]
        assert all(np.array_equal(drawn[1][k], given[1][k]) for k in drawn[1])


def _batchnorm_eps(eps: float) -> Callable[..., tuple[np.ndarray, Any]]:
    def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]) -> Any:
        bn_param.setdefault("eps", eps)
        return layers.batchnorm_forward(x, gamma, beta, bn_param)

    return forward


def _batchnorm_cases(spec: Spec) -> list[Case]:
    return [c for c in main_cases(spec, 30, scale=False) if c["normalization"] == "batchnorm"
            and not FC.uses_dropout(c)]


def test_gradients_right_for_the_students_own_loss_keep_their_points() -> None:
    """A batch norm with eps 1e-4 moves the loss a little; its backward is exact for it, so the network's
    gradients are right for the network built and are judged so (the loss check still fails)."""
    spec = registry.get("FullyConnectedNet")
    modules = student(batchnorm_forward=_batchnorm_eps(1e-4))
    runs = [run_case(spec, case, modules) for case in _batchnorm_cases(spec)]
    assert runs and all(r.verdicts["grads"].passed for r in runs)
    label = "finite differences of your network's loss"
    assert spec.own_gradient is not None and spec.own_gradient.label == label
    assert any(r.judged_by.get("grads") == label for r in runs)
    assert not all(r.verdicts["loss"].passed for r in runs)
    # the report says how and why, in the network's words (not a layer's "your forward")
    note = judged_by_note([{"name": "grads", "judged_by": [label]}], spec.name, spec.own_gradient)
    assert note == [f"grads was judged with {label} on some cases, so a convention of your layers that moves the "
                    "loss a little does not cost FullyConnectedNet its points."]
    assert judged_by_note([{"name": "dx", "judged_by": [OWN_FORWARD]}], "batchnorm_backward", None) == [
        f"dx was judged with {OWN_FORWARD} on some cases, so a mistake in the forward does not cost "
        "batchnorm_backward its points."]


def test_made_up_gradients_are_not_rescued_by_finite_differences() -> None:
    spec = registry.get("FullyConnectedNet")
    original = reference_fc_net.affine_backward

    def doubled(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dx, dw, db = original(dout, cache)
        return dx, 2.0 * dw, db

    modules = student(affine_backward=doubled)
    runs = [run_case(spec, case, modules) for case in main_cases(spec, 6)]
    assert all(not r.verdicts["grads"].passed for r in runs)
    assert all(r.verdicts["loss"].passed for r in runs)


class UnpooledW2Net(reference_cnn.ThreeLayerConvNet):
    """W2 sized for the conv output (num_filters * H * W rows) instead of the pooled one."""

    def __init__(self, input_dim: tuple[int, int, int] = (3, 32, 32), num_filters: int = 32, hidden_dim: int = 100,
                 **options: Any) -> None:
        super().__init__(input_dim, num_filters=num_filters, hidden_dim=hidden_dim, **options)
        _, h, w = input_dim
        self.params["W2"] = np.zeros((num_filters * h * w, hidden_dim))


def test_a_wrong_w2_shape_costs_the_init_check_alone() -> None:
    spec = registry.get("ThreeLayerConvNet")
    modules = {**CS231N, "cnn": SimpleNamespace(ThreeLayerConvNet=UnpooledW2Net)}
    runs = [run_case(spec, case, modules) for case in [*spec.fixed_cases(), *main_cases(spec, 4)]]
    assert set(failing(runs)) == {"init"}
    assert {d.name for d in spec.diagnoses if d.applies(runs)} == {"w2_rows_unpooled"}


# ---------------------------------------------------------------- the 2016-17 hand-out (handout = "2017")
def drop_p_dropout(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
    """A 2016-17 dropout_forward: p is the probability of dropping a unit (the reference's p keeps one)."""
    return layers.dropout_forward(x, {**dropout_param, "p": 1 - dropout_param["p"]})


def skeleton_batchnorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict[str, Any]) -> Any:
    """Batch norm as the 2016-17 skeleton's ``bn_param[mode] = mode`` leaves it: its 'mode' stays 'train'."""
    return layers.batchnorm_forward(x, gamma, beta, {**bn_param, "mode": "train"})


def student_2017(stored_p: Callable[[float], float] = lambda dropout: dropout) -> dict[str, Any]:
    """A 2016-17 student's modules: FullyConnectedNet(hidden_dims, ..., dropout=0, use_batchnorm=False, ...) that
    stores ``stored_p(dropout)`` as dropout_param['p'] (the hand-out: dropout itself), on a drop-p dropout and the
    skeleton's batch norm that never leaves train mode."""
    modules = student(drop_p_dropout, batchnorm_forward=skeleton_batchnorm)
    handout = modules["fc_net"].FullyConnectedNet

    class Net2017(handout):  # type: ignore[misc, valid-type]
        def __init__(self, hidden_dims: list[int], input_dim: int = 3 * 32 * 32, num_classes: int = 10,
                     dropout: float = 0, use_batchnorm: bool = False, reg: float = 0.0, weight_scale: float = 1e-2,
                     dtype: Any = np.float32, seed: int | None = None) -> None:
            super().__init__(hidden_dims, input_dim, num_classes, dropout_keep_ratio=1 - dropout,
                             normalization="batchnorm" if use_batchnorm else None, reg=reg,
                             weight_scale=weight_scale, dtype=dtype, seed=seed)
            if self.use_dropout:
                self.dropout_param["p"] = stored_p(dropout)

    modules["fc_net"].FullyConnectedNet = Net2017
    return modules


def test_the_2017_handout_network_gets_full_marks_and_the_2019_spec_cannot_build_it() -> None:
    spec = registry.get("FullyConnectedNet", handout="2017")
    cases = main_cases(spec, 30)
    assert {c["normalization"] for c in cases} == {None, "batchnorm"} and any(FC.uses_dropout(c) for c in cases)
    runs = [run_case(spec, case, student_2017()) for case in cases]
    assert not failing(runs)
    default = registry.get("FullyConnectedNet")
    errors = [run_case(default, case, student_2017()).error or "" for case in default.fixed_cases()]
    assert all("TypeError" in e and "unexpected keyword argument" in e for e in errors)


def test_a_2017_network_storing_the_keep_probability_loses_loss_and_grads_named() -> None:
    spec = registry.get("FullyConnectedNet", handout="2017")
    runs = [run_case(spec, case, student_2017(lambda dropout: 1 - dropout)) for case in main_cases(spec, 30)]
    lost = [r for r in runs if r.failed]
    assert lost and all(FC.uses_dropout(r.case) and r.case["dropout_keep_ratio"] != 0.5 for r in lost)
    assert all(set(failing([r])) == {"loss", "grads"} for r in lost)
    assert {d.name for d in spec.diagnoses if d.applies(runs)} == {"dropout_p_complement"}


def test_the_2017_handout_reaches_its_cases_and_an_unknown_handout_is_refused() -> None:
    spec = registry.get("FullyConnectedNet", handout="2017")
    cases = main_cases(spec, 40)
    assert all(any(reach.holds(c) for c in cases) for reach in spec.reaches)
    assert "layernorm_forward" not in spec.builds_on
    with pytest.raises(ValueError, match="handout must be one of"):
        registry.get("FullyConnectedNet", handout="2018")
