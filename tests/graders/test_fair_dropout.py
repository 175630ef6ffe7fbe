"""Fair verdicts for dropout (cs231n's functions, the book's Dropout) and the book's BatchNormalization.

* The statistical rules (graders/specs/kit/maskstats.py) keep their promise: for a correct mask the chance of a
  false alarm is below 1e-7 per check, checked against exact binomial and hypergeometric tails; and they still
  tell a fixed pattern from a random mask at the sizes graded.
* Every correct way to draw a mask gets full marks: np.random.rand < p, np.random.binomial, a Generator, a
  fixed count from np.random.choice or a permutation, torch. Fake masks lose points at dropout_forward with a
  diagnosis: the first p * size units, every other unit, a fixed seed, the first seed remembered, one mask for
  the whole batch.
* A dropout written for the notebook's 2-D input loses only robust:any_shape; its backward keeps full marks
  (a forward that raises leaves the backward's case unjudged, never failed).
* The book's BatchNormalization: one bug costs points once (the test-mode output is judged on the layer's own
  running statistics, the gradients on its own forward), and eps outside the square root is accepted in test
  mode.

The student code here is written for these tests.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from graders import assignment as assignments
from graders.backward import OWN_FORWARD
from graders.function_report import UNJUDGED, check_entries, robustness_entries
from graders.runner import FunctionOutcome
from graders.sandbox.inprocess import run_case
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.dlfs import dropout as BOOK_DROPOUT
from graders.specs.dropout import cases as DO
from graders.specs.kit import maskstats as M
from reference import layers as RL
from reference.cs231n import layer_utils, layers
from tests.graders.drawn import main_cases
from tests.graders.dropout_masks import (
    Mask,
    binomial_mask,
    choice_mask,
    forward_with,
    generator_binomial_mask,
    generator_mask,
    rand_mask,
)


# ---------------------------------------------------------------- helpers
def outcome_of(spec: Spec, modules: dict[str, Any], count: int = 3) -> FunctionOutcome:
    """What the grader collects for a function: main runs, and each robustness check's runs."""
    outcome = FunctionOutcome(runs=[run_case(spec, case, modules) for case in sample_cases(spec, count)])
    for check in spec.robustness:
        assert check.cases is not None
        outcome.robust_runs[check.name] = [run_case(spec, case, modules) for case in check.cases()]
    return outcome


def entries(assignment: str, name: str, modules: dict[str, Any], count: int = 3) -> dict[str, dict[str, Any]]:
    """The function's check entries as the report gives them (main and robustness), by name."""
    graded = assignments.load(assignment).function(name)
    outcome = outcome_of(graded.spec, modules, count)
    main = check_entries(graded, outcome.runs, None)
    return {e["name"]: e for e in main + robustness_entries(graded, outcome, main)}


def lost(found: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, entry in found.items() if not entry["passed"]}


def diagnosed(spec: Spec, runs: Sequence[CaseRun]) -> set[str]:
    return {d.name for d in spec.diagnoses if d.applies(runs)}


def cs231n(**functions: Callable[..., Any]) -> dict[str, Any]:
    """The modules of a student who wrote the reference's layers except ``functions``."""
    return {"layers": SimpleNamespace(**{**vars(layers), **functions}), "layer_utils": layer_utils}


# ---------------------------------------------------------------- the bounds keep their promise
def log_binomial_pmf(k: int, n: int, p: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (
        n - k) * math.log1p(-p)


def log_hypergeometric_pmf(k: int, population: int, successes: int, draws: int) -> float:
    def log_choose(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    return log_choose(successes, k) + log_choose(population - successes, draws - k) - log_choose(population, draws)


def outside_mass(log_pmf: Callable[[int], float], support: range, low: float, high: float) -> float:
    return sum(math.exp(log_pmf(k)) for k in support if k < low or k > high)


@pytest.mark.parametrize(("draws", "p"), [(10, 0.05), (200, 0.05), (200, 0.5), (300, 0.95), (2000, 0.3),
                                          (40000, 0.05), (40000, 0.7)])
@pytest.mark.parametrize("alarm", [M.FALSE_ALARM, M.FALSE_ALARM / 1000])
def test_binomial_counts_leave_the_bounds_less_often_than_the_alarm(draws: int, p: float, alarm: float) -> None:
    low, high = M.count_bounds(draws, p, alarm)
    mass = outside_mass(lambda k: log_binomial_pmf(k, draws, p), range(draws + 1), low, high)
    assert mass <= alarm
    assert low <= draws * p <= high


@pytest.mark.parametrize(("population", "successes", "draws"), [(1000, 500, 300), (40000, 2000, 200),
                                                                 (90000, 60000, 300), (250000, 62500, 500)])
def test_hypergeometric_counts_leave_the_bounds_less_often_than_the_alarm(
        population: int, successes: int, draws: int) -> None:
    """Hoeffding: sampling without replacement obeys the binomial's Chernoff bound (rows of a fixed-count
    mask, the overlap of two masks)."""
    low, high = M.count_bounds(draws, successes / population, M.FALSE_ALARM)
    support = range(max(0, draws - (population - successes)), min(draws, successes) + 1)
    mass = outside_mass(lambda k: log_hypergeometric_pmf(k, population, successes, draws), support, low, high)
    assert mass <= M.FALSE_ALARM


def test_the_bounds_are_tight_enough_to_see_a_percent() -> None:
    """At the smallest size graded the keep-rate bounds are within 1.5% of the keep probability, and a group of
    200 units kept entirely or not at all is far outside its bounds."""
    low, high = M.keep_count_bounds(40000, 0.5)
    assert (high - low) / 2 / 40000 < 0.015
    low, high = M.count_bounds(200, 0.5, M.FALSE_ALARM / 1000)
    assert low > 0.25 * 200 and high < 0.75 * 200


def test_random_masks_pass_every_statistical_test() -> None:
    """Many correct masks of the graded sizes: not one alarm (each check's chance is below 1e-7)."""
    rng = np.random.default_rng(2024)
    for _ in range(150):
        shape = (int(rng.integers(200, 301)), int(rng.integers(200, 301)))
        keep = float(rng.uniform(0.05, 0.95))
        first, second = rng.random(shape) < keep, rng.random(shape) < keep
        low, high = M.keep_count_bounds(first.size, keep)
        assert low <= first.sum() <= high
        assert not M.uniformity_failures(first)[0]
        assert not M.overlap_test(first, second).failed


def test_a_correct_mask_passes_every_rule_on_the_small_property_cases() -> None:
    """The property cases are small (up to 40 x 60): every rule keeps its false-alarm bound there, and a case
    where a correct mask kept nothing (a few units at a low p) passes ``scale``; on a notebook case an output
    of zeros still fails it."""
    spec = registry.get("dropout_forward")
    rng = np.random.default_rng(2025)
    nothing_kept = 0
    for trial in range(400):
        tiny = trial < 100
        shape = (1, int(rng.integers(1, 4))) if tiny else (int(rng.integers(1, 41)), int(rng.integers(1, 61)))
        keep = float(rng.uniform(0.05, 0.3 if tiny else 0.95))
        x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
        case = {"x": x, "dout": x, **DO.params(keep, 1, 2)}
        first, other = (rng.random(shape) < keep for _ in range(2))
        nothing_kept += not first.any()
        actual = {"out": x * first / keep, "out_again": x * first / keep, "out_other": x * other / keep,
                  "out_test": x.copy()}
        for check in spec.checks:
            assert check.compare is not None
            verdict = check.compare(case, actual, {}, check)
            assert verdict.passed, f"{check.name} on {shape}, keep {keep:.3f}: {verdict.message}"
    assert nothing_kept > 10
    notebook = spec.fixed_cases()[0]
    zeros = spec.check("scale")
    assert zeros.compare is not None
    verdict = zeros.compare(notebook, {"out": np.zeros_like(notebook["x"])}, {}, zeros)
    assert not verdict.passed and "no unit was kept" in verdict.message


def test_a_correct_book_mask_passes_every_rule_on_the_small_property_cases() -> None:
    """The book's Dropout, likewise: small cases (a unit or three at a high dropout_ratio keep nothing now and
    then) pass every rule; on a notebook case an output of zeros still fails kept_unchanged."""
    spec = registry.get("Dropout")
    rng = np.random.default_rng(2026)
    nothing_kept = 0
    for trial in range(400):
        tiny = trial < 100
        shape = (1, int(rng.integers(1, 4))) if tiny else (int(rng.integers(1, 41)), int(rng.integers(1, 61)))
        ratio = float(rng.uniform(0.7 if tiny else 0.05, 0.95))
        x = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
        case = {"x": x, "dout": x, "dropout_ratio": ratio}
        first, following = (rng.random(shape) > ratio for _ in range(2))
        nothing_kept += not first.any()
        actual = {"out": x * first, "dx": x * first, "out_test": x * (1.0 - ratio), "out_next": x * following}
        for check in spec.checks:
            assert check.compare is not None
            verdict = check.compare(case, actual, {}, check)
            assert verdict.passed, f"{check.name} on {shape}, ratio {ratio:.3f}: {verdict.message}"
    assert nothing_kept > 10
    notebook = spec.fixed_cases()[0]
    kept = spec.check("kept_unchanged")
    assert kept.compare is not None
    verdict = kept.compare(notebook, {"out": np.zeros_like(notebook["x"])}, {}, kept)
    assert not verdict.passed and "no unit was kept" in verdict.message


# ---------------------------------------------------------------- cs231n: wrong ways to draw a mask
def permutation_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    size = int(np.prod(shape))
    return (np.random.permutation(size) < p * size).reshape(shape).astype(float)


def first_units_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    size = int(np.prod(shape))
    return (np.arange(size) < p * size).reshape(shape).astype(float)


def every_other_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) % 2 == 0).reshape(shape).astype(float)


def fixed_seed_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return (np.random.RandomState(231).rand(*shape) < p).astype(float)


def first_seed_mask() -> Mask:
    """Seeds with the first seed it is ever given (a cache of the seed)."""
    remembered: list[int | None] = []

    def mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
        remembered.append(seed)
        return (np.random.RandomState(remembered[0]).rand(*shape) < p).astype(float)

    return mask


def batch_mask(shape: tuple[int, ...], p: float, seed: int | None) -> np.ndarray:
    return np.broadcast_to(np.random.rand(*shape[1:]) < p, shape).astype(float)


@pytest.mark.parametrize("mask", [rand_mask, binomial_mask, generator_mask, generator_binomial_mask, choice_mask,
                                  permutation_mask], ids=lambda m: m.__name__)
def test_every_correct_way_to_draw_a_mask_gets_full_marks(mask: Mask) -> None:
    spec = registry.get("dropout_forward")
    modules = cs231n(dropout_forward=forward_with(mask))
    found = entries("cs231n-a2", "dropout_forward", modules)
    assert not lost(found), {n: e["message"] for n, e in found.items() if not e["passed"]}
    assert diagnosed(spec, outcome_of(spec, modules).runs) == set()


@pytest.mark.parametrize(("mask", "failing", "named"), [
    (first_units_mask, {"seed_varies", "uniform"}, {"same mask for every seed", "mask not uniform"}),
    (every_other_mask, {"keep_rate", "seed_varies", "uniform"}, {"same mask for every seed", "mask not uniform"}),
    (fixed_seed_mask, {"seed_varies"}, {"same mask for every seed"}),
    (first_seed_mask(), {"seed_varies"}, {"same mask for every seed"}),
    (batch_mask, {"keep_rate", "seed_varies", "uniform"}, {"mask shared by the batch"}),
], ids=["first-units", "every-other-unit", "fixed-seed", "first-seed-remembered", "shared-by-batch"])
def test_masks_that_are_not_random_lose_points_with_a_diagnosis(
        mask: Mask, failing: set[str], named: set[str]) -> None:
    spec = registry.get("dropout_forward")
    runs = [run_case(spec, case, cs231n(dropout_forward=forward_with(mask))) for case in spec.fixed_cases()]
    assert {n for r in runs for n, v in r.verdicts.items() if not v.passed} == failing
    assert diagnosed(spec, runs) == named


def test_a_fixed_pattern_is_shown_where_it_shows() -> None:
    """The message names a group of positions and its count, not just a statistic."""
    spec = registry.get("dropout_forward")
    run = run_case(spec, spec.fixed_cases()[0], cs231n(dropout_forward=forward_with(first_units_mask)))
    message = run.verdicts["uniform"].message
    assert "kept units in row 0: 500 of 500" in message
    assert "the very same mask" in run.verdicts["seed_varies"].message


# ---------------------------------------------------------------- cs231n: 2-D only, setup steps
def test_a_2d_only_dropout_loses_only_robust_any_shape_and_its_backward_nothing() -> None:
    modules = cs231n(dropout_forward=forward_with(rand_mask, two_d=True))
    forward = entries("cs231n-a2", "dropout_forward", modules)
    assert lost(forward) == {"robust:any_shape"}
    assert "any shape" in forward["robust:any_shape"]["message"]
    backward = entries("cs231n-a2", "dropout_backward", modules)
    assert not lost(backward), backward
    # the backward's 4-D case could not be judged (its forward raised): not a failure of the backward
    assert backward["robust:any_shape"]["cases"] == 0


def test_a_2d_only_backward_loses_only_robust_any_shape() -> None:
    def dropout_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
        dropout_param, mask = cache
        n, d = dout.shape
        return dout * mask if dropout_param["mode"] == "train" else dout

    found = entries("cs231n-a2", "dropout_backward", cs231n(dropout_backward=dropout_backward))
    assert lost(found) == {"robust:any_shape"}


def test_a_forward_that_raises_leaves_the_backward_unjudged_not_failed() -> None:
    def forward_raising_above_half(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
        if dropout_param["p"] > 0.5:
            raise NotImplementedError("TODO")
        return layers.dropout_forward(x, dropout_param)

    def forward_not_written(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
        raise NotImplementedError("TODO")

    some = entries("cs231n-a2", "dropout_backward", cs231n(dropout_forward=forward_raising_above_half), count=6)
    assert not lost(some)
    none = entries("cs231n-a2", "dropout_backward", cs231n(dropout_forward=forward_not_written))
    assert all(none[name]["message"].startswith(UNJUDGED) for name in ("dx", "dx_test"))
    assert "dropout_forward raised NotImplementedError" in none["dx"]["message"]
    # nothing could be judged at all: the 4-D robustness case earns nothing either
    assert not none["robust:any_shape"]["passed"]


# ---------------------------------------------------------------- cs231n: torch obeys every rule
def torch_dropout(case: Case) -> dict[str, Any]:
    torch = pytest.importorskip("torch")
    drop = 1.0 - case["dropout_param"]["p"]

    def train(seed: int) -> Any:
        torch.manual_seed(seed)
        x = torch.tensor(case["x"], requires_grad=True)
        return x, torch.nn.functional.dropout(x, drop, training=True)

    x, out = train(case["dropout_param"]["seed"])
    out.backward(torch.tensor(case["dout"]))
    assert x.grad is not None
    return {
        "out": out.detach().numpy(),
        "out_again": train(case["dropout_param"]["seed"])[1].detach().numpy(),
        "out_other": train(case["other_param"]["seed"])[1].detach().numpy(),
        "out_test": torch.nn.functional.dropout(torch.tensor(case["x"]), drop, training=False).numpy(),
        "dx": x.grad.numpy(),
        "dx_test": case["dout"],
    }


def test_torch_dropout_satisfies_every_rule() -> None:
    forward, backward = registry.get("dropout_forward"), registry.get("dropout_backward")
    cases = forward.fixed_cases() + DO.any_shape_cases() + forward.scale_cases()
    for case in cases:
        actual = torch_dropout(case)
        for spec in (forward, backward):
            for check in spec.checks:
                assert check.compare is not None
                verdict = check.compare(case, actual, spec.expected(copy.deepcopy(case)), check)
                assert verdict.passed, f"torch fails {spec.name}.{check.name}: {verdict.message}"


def test_the_tiers_are_2d_with_4d_for_robustness_only() -> None:
    forward, backward = registry.get("dropout_forward"), registry.get("dropout_backward")
    main = sample_cases(forward, 5)
    assert all(case["x"].ndim == 2 for case in main)
    # the statistics come from the notebook and scale tiers (the property cases are small)
    assert all(case["x"].size >= 40000 for case in (*forward.fixed_cases(), *forward.scale_cases()))
    assert all(case["dropout_param"]["seed"] != case["other_param"]["seed"] for case in main)
    assert all(case["x"].ndim == 2 for case in sample_cases(backward, 5))
    robust = [c for spec in (forward, backward) for r in spec.robustness if r.cases for c in r.cases()]
    assert robust and all(case["x"].ndim == 4 for case in robust)


# ---------------------------------------------------------------- the book's Dropout
class BookDropout:
    """The book's layer with its mask drawn by ``draw(layer, x)``."""

    def __init__(self, dropout_ratio: float = 0.5, draw: Callable[[Any, np.ndarray], np.ndarray] | None = None):
        self.dropout_ratio = dropout_ratio
        self.draw = draw
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if not train_flg:
            return x * (1.0 - self.dropout_ratio)
        assert self.draw is not None
        self.mask = self.draw(self, x)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.mask is not None
        return dout * self.mask


def book_2d_only(layer: Any, x: np.ndarray) -> np.ndarray:
    n, d = x.shape
    return np.random.rand(n, d) > layer.dropout_ratio


def book_generator(layer: Any, x: np.ndarray) -> np.ndarray:
    layer.rng = getattr(layer, "rng", None) or np.random.default_rng()
    return layer.rng.random(x.shape) > layer.dropout_ratio


def book_choice(layer: Any, x: np.ndarray) -> np.ndarray:
    mask = np.zeros(x.size, dtype=bool)
    mask[np.random.choice(x.size, int(round((1 - layer.dropout_ratio) * x.size)), replace=False)] = True
    return mask.reshape(x.shape)


def book_first_units(layer: Any, x: np.ndarray) -> np.ndarray:
    return (np.arange(x.size) < (1 - layer.dropout_ratio) * x.size).reshape(x.shape)


def book_reseeded(layer: Any, x: np.ndarray) -> np.ndarray:
    np.random.seed(0)
    return np.random.rand(*x.shape) > layer.dropout_ratio


def dlfs_layers(draw: Callable[[Any, np.ndarray], np.ndarray]) -> dict[str, Any]:
    return {"layers": SimpleNamespace(Dropout=functools.partial(BookDropout, draw=draw))}


@pytest.mark.parametrize(("draw", "failing", "named"), [
    (book_generator, set(), set()),
    (book_choice, set(), set()),
    (book_2d_only, {"robust:any_shape"}, set()),
    (book_first_units, {"mask_varies", "uniform"}, {"same mask at every forward", "mask not uniform"}),
    (book_reseeded, {"mask_varies"}, {"same mask at every forward"}),
], ids=["generator", "choice", "2d-only", "first-units", "reseeded"])
def test_the_books_dropout_is_judged_like_cs231ns(
        draw: Callable[[Any, np.ndarray], np.ndarray], failing: set[str], named: set[str]) -> None:
    spec = registry.get("Dropout")
    modules = dlfs_layers(draw)
    assert lost(entries("dlfs", "Dropout", modules)) == failing
    assert diagnosed(spec, outcome_of(spec, modules).runs) == named


# ---------------------------------------------------------------- the book's BatchNormalization
class BatchNorm:
    """The book's BatchNormalization, compact, with slips: ``eps_train`` / ``eps_test`` (None: left out),
    ``outside`` (eps outside the sqrt in test mode), ``swapped`` momentum, ``ddof_running`` for running_var,
    ``batch_stats_in_test``. The backward is always the exact gradient of the train-mode forward."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9, **slips: Any) -> None:
        self.gamma, self.beta, self.momentum, self.slips = gamma, beta, momentum, slips
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        self.shape = x.shape
        rows = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
        assert self.running_var is not None
        keep = 1.0 - self.momentum if self.slips.get("swapped") else self.momentum
        if train_flg:
            mu, var = rows.mean(axis=0), rows.var(axis=0)
            self.std = np.sqrt(var + self.slips.get("eps_train", 10e-7))
            self.xn = (rows - mu) / self.std
            self.running_mean = keep * self.running_mean + (1 - keep) * mu
            self.running_var = keep * self.running_var + (1 - keep) * rows.var(
                axis=0, ddof=self.slips.get("ddof_running", 0))
            xn = self.xn
        elif self.slips.get("batch_stats_in_test"):
            xn = (rows - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + 10e-7)
        else:
            eps = self.slips.get("eps_test", 10e-7)
            std = np.sqrt(self.running_var) + eps if self.slips.get("outside") else np.sqrt(self.running_var + eps)
            xn = (rows - self.running_mean) / std
        return (self.gamma * xn + self.beta).reshape(self.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.reshape(dout.shape[0], -1)
        n = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dx = (n * dxn - dxn.sum(axis=0) - self.xn * np.sum(dxn * self.xn, axis=0)) / (n * self.std)
        return dx.reshape(self.shape)


@pytest.mark.parametrize(("slips", "failing", "named"), [
    ({}, set(), set()),
    ({"outside": True}, set(), set()),
    ({"eps_train": 0.0, "eps_test": 0.0}, {"out", "out_test"}, {"eps missing or misplaced"}),
    ({"eps_train": 0.0}, {"out"}, {"eps missing or misplaced"}),
    ({"swapped": True}, {"running_mean", "running_var"}, {"momentum swapped"}),
    ({"ddof_running": 1}, {"running_var"}, {"unbiased variance"}),
    ({"batch_stats_in_test": True}, {"out_test"}, set()),
], ids=["book", "eps-outside-in-test", "no-eps", "no-eps-in-train", "momentum-swapped", "unbiased-running",
        "batch-stats-in-test"])
def test_batchnorm_one_slip_costs_its_own_checks_only(
        slips: dict[str, Any], failing: set[str], named: set[str]) -> None:
    spec = registry.get("BatchNormalization")
    modules = {"layers": SimpleNamespace(BatchNormalization=functools.partial(BatchNorm, **slips))}
    outcome = outcome_of(spec, modules, count=8)
    assert lost(entries("dlfs", "BatchNormalization", modules, count=8)) == failing
    assert diagnosed(spec, outcome.runs) == named


def test_batchnorm_gradients_of_a_forward_without_eps_are_judged_on_that_forward() -> None:
    spec = registry.get("BatchNormalization")
    layer = functools.partial(BatchNorm, eps_train=0.0)
    runs = [run_case(spec, case, {"layers": SimpleNamespace(BatchNormalization=layer)})
            for case in spec.fixed_cases()]
    assert all(r.verdicts[name].passed for r in runs for name in ("dx", "dgamma"))
    assert any(r.judged_by.get("dx") == OWN_FORWARD for r in runs)


def test_batchnorm_scale_cases_are_realistic_and_the_reference_passes_them() -> None:
    spec = registry.get("BatchNormalization")
    scale = spec.scale_cases()
    assert {case["x"].shape for case in scale} == {(100, 100), (16, 8, 8, 8)}
    runs = [run_case(spec, case, {"layers": RL}) for case in scale]
    assert all(v.passed for r in runs for v in r.verdicts.values())
    assert spec.torch_expected is not None
    pytest.importorskip("torch")
    for case in scale:
        ours, theirs = spec.expected(copy.deepcopy(case)), spec.torch_expected(copy.deepcopy(case))
        for check in spec.checks:
            assert np.allclose(ours[check.name], theirs[check.name], rtol=check.rtol, atol=check.atol), check.name


def test_dropout_scale_cases_are_realistic_and_the_reference_passes_them() -> None:
    for name, modules in (("dropout_forward", cs231n()), ("dropout_backward", cs231n()),
                          ("Dropout", {"layers": RL})):
        spec = registry.get(name)
        assert spec.scale_cases(), name
        runs = [run_case(spec, case, modules) for case in spec.scale_cases()]
        assert all(v.passed for r in runs for v in r.verdicts.values()), name
    assert BOOK_DROPOUT.dropout_scale()[0]["x"].shape == (100, 100)


def sample_cases(spec: Spec, count: int = 10) -> list[Case]:
    """The fixed cases, ``count`` property cases and the scale cases."""
    return main_cases(spec, count)
