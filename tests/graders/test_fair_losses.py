"""Fair verdicts for the classification losses and the book's functions and layers.

The hand-out's domain (ordinary scores, true classes of non-zero probability) decides the main checks; huge
scores, tiny and zero probabilities are small robustness checks of their own. Each student-style variant here
was reproduced from real code: it must keep every main check and lose exactly the robustness check named,
while a real bug (a sum where a mean belongs) still fails the main checks, and only them (one bug costs
points once). The reference is also compared with torch on the scale and robustness cases, which the
registry-generated reference tests do not draw.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import assignment as assignments
from graders.checks import compare_arrays
from graders.grade import GradeOptions, grade
from graders.sandbox.inprocess import run_case
from graders.selftest.patch import Patch, apply_patches, read_tree, write_tree
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.losses import OVERFLOW_LOGIT
from reference import dlfs as D
from reference import layers as RL
from reference.cs231n import layers as CS
from tests.graders.drawn import main_cases as drawn_main_cases

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"
LOSS_SPECS = ("softmax_loss", "svm_loss", "sigmoid", "softmax", "cross_entropy_error", "Relu", "Sigmoid",
              "Affine", "SoftmaxWithLoss")
BOOK_FUNCTIONS = {"sigmoid": D.sigmoid, "softmax": D.softmax, "cross_entropy_error": D.cross_entropy_error}


# ---------------------------------------------------------------- running a spec in-process
def run(spec: Spec, cases: Sequence[Case], modules: dict[str, Any]) -> list[CaseRun]:
    return [run_case(spec, case, modules) for case in cases]


def failing(runs: Sequence[CaseRun], names: Sequence[str] | None = None) -> set[str]:
    return {k for r in runs for k, v in r.verdicts.items() if not v.passed and (names is None or k in names)}


def messages(runs: Sequence[CaseRun]) -> list[str]:
    return [f"{k}: {v.message}" for r in runs for k, v in r.verdicts.items() if not v.passed]


def verdict(spec: Spec, modules: dict[str, Any]) -> tuple[set[str], set[str], list[CaseRun]]:
    """(failing main checks, failing robustness checks by name, every run) of ``modules`` on ``spec``."""
    main = run(spec, main_cases(spec), modules)
    lost: set[str] = set()
    runs = list(main)
    for check in spec.robustness:
        robust = run(spec, check.cases() if check.cases is not None else [], modules)
        runs += robust
        if failing(robust, check.checks or [c.name for c in spec.checks]):
            lost.add(check.name)
    return failing(main), lost, runs


def diagnosed(spec: Spec, runs: Sequence[CaseRun]) -> set[str]:
    return {d.name for d in spec.diagnoses if d.applies(runs)}


# ---------------------------------------------------------------- cs231n softmax_loss and svm_loss
def _softmax_rows(x: np.ndarray, shift: bool) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x - np.max(x, axis=1, keepdims=True) if shift else x)
        return e / np.sum(e, axis=1, keepdims=True)


def _dx(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx = p.copy()
    dx[np.arange(len(y)), y] -= 1
    return dx / len(y)


def loss_without_max_shift(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Real student code: exp of the raw scores, then the log of the probability."""
    p = _softmax_rows(x, shift=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-np.mean(np.log(p[np.arange(len(y)), y]))), _dx(p, y)


def loss_log_plus_epsilon(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Real student code: shifted softmax, log(p + 1e-20) "to avoid log(0)"."""
    p = _softmax_rows(x, shift=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-20))), _dx(p, y)


def loss_log_of_clipped(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Real student code: shifted softmax, log(max(p, 1e-20))."""
    p = _softmax_rows(x, shift=True)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-20)))), _dx(p, y)


def loss_logsumexp(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Correct, written differently: log-sum-exp of the shifted scores, loss from the log-probabilities."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.sum(log_p[np.arange(len(y)), y]) / len(y)), _dx(np.exp(log_p), y)


def summed(loss: Callable[..., tuple[float, np.ndarray]]) -> Callable[..., tuple[float, np.ndarray]]:
    """A real bug: the loss and dx summed over the batch instead of averaged."""

    def wrong(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        value, dx = loss(x, y)
        return value * len(y), dx * len(y)

    return wrong


def cs231n(**functions: Any) -> dict[str, Any]:
    return {"layers": SimpleNamespace(**{"softmax_loss": CS.softmax_loss, "svm_loss": CS.svm_loss, **functions})}


@pytest.mark.parametrize(
    "loss, lost",
    [
        (loss_without_max_shift, {"large_scores"}),
        (loss_log_plus_epsilon, {"tiny_probabilities"}),
        (loss_log_of_clipped, {"tiny_probabilities"}),
        (loss_logsumexp, set()),
        (CS.softmax_loss, set()),
    ],
)
def test_softmax_loss_written_differently_keeps_the_main_checks(
    loss: Callable[..., tuple[float, np.ndarray]], lost: set[str]
) -> None:
    spec = registry.get("softmax_loss")
    main, robust, _ = verdict(spec, cs231n(softmax_loss=loss))
    assert main == set()
    assert robust == lost


def test_a_softmax_without_max_shift_is_named_overflow_from_the_robustness_runs() -> None:
    spec = registry.get("softmax_loss")
    _, _, runs = verdict(spec, cs231n(softmax_loss=loss_without_max_shift))
    assert diagnosed(spec, runs) == {"softmax overflow"}


def test_summed_softmax_loss_fails_the_main_checks_only() -> None:
    """One bug costs points once: as wrong on large scores as on ordinary ones, so large_scores holds (shift
    invariance), and tiny_probabilities has one example per case."""
    spec = registry.get("softmax_loss")
    main, robust, runs = verdict(spec, cs231n(softmax_loss=summed(CS.softmax_loss)))
    assert main == {"loss", "dx"}
    assert robust == set()
    assert diagnosed(spec, runs) == {"loss summed over the batch"}


def loss_max_without_keepdims(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """A real bug: the row maximum without keepdims (raises unless N == C, wrong when N == C)."""
    shifted = x - np.max(x, axis=1)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(y)), y])), _dx(np.exp(log_p), y)


def test_a_softmax_loss_raising_on_ordinary_scores_shows_no_robustness_either() -> None:
    """A function that raises shows nothing about large scores: it loses large_scores too (a raising stub must
    not earn robustness points); tiny_probabilities, one example per case, does not reach the slip."""
    spec = registry.get("softmax_loss")
    main, robust, _ = verdict(spec, cs231n(softmax_loss=loss_max_without_keepdims))
    assert main == {"loss", "dx"}
    assert robust == {"large_scores"}


def test_a_raising_stub_earns_no_robustness_points() -> None:
    def stub(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    spec = registry.get("softmax_loss")
    main, robust, _ = verdict(spec, cs231n(softmax_loss=stub))
    assert main == {"loss", "dx"}
    assert robust == {"large_scores", "tiny_probabilities"}


def test_summed_svm_loss_fails_the_main_checks() -> None:
    spec = registry.get("svm_loss")
    main, robust, _ = verdict(spec, cs231n(svm_loss=summed(CS.svm_loss)))
    assert main == {"loss", "dx"} and robust == set()


def test_a_softmax_loss_broken_only_on_large_scores_is_not_excused_by_invariance() -> None:
    """Shift invariance is judged on the student's own ordinary result, which must be finite and equal:
    NaN on large scores fails even though NaN == NaN would "agree"."""
    spec = registry.get("softmax_loss")
    case = spec.robustness[0].cases()[0]
    run_ = run_case(spec, case, cs231n(softmax_loss=loss_without_max_shift))
    assert not run_.verdicts["loss"].passed and "NaN or inf" in run_.verdicts["loss"].message


# ---------------------------------------------------------------- the book's functions
def naive_softmax(a: np.ndarray) -> np.ndarray:
    """The book's ch. 3 softmax before its overflow fix, for 1-D and 2-D."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(a)
        return e / np.sum(e, axis=-1, keepdims=True)


def whole_batch_softmax(a: np.ndarray) -> np.ndarray:
    """A real bug: the 1-D softmax (one max, one sum) used on a batch."""
    e = np.exp(a - np.max(a))
    return e / np.sum(e)


def book_cross_entropy(delta: float = 1e-7, mean: bool = True, clip: bool = False) -> Callable[..., float]:
    """The book's cross_entropy_error: delta 1e-7 (since its Dec. 2017 errata) or 0 (before), averaged or (a
    real bug) summed; ``clip`` takes log(max(y, 1e-7)) instead of log(y + 1e-7)."""

    def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
        if y.ndim == 1:
            t, y = t.reshape(1, t.size), y.reshape(1, y.size)
        if t.size == y.size:
            t = t.argmax(axis=1)
        n = y.shape[0]
        p = y[np.arange(n), t.reshape(-1)]
        with np.errstate(divide="ignore"):
            total = -np.sum(np.log(np.maximum(p, 1e-7) if clip else p + delta))
        return float(total / n if mean else total)

    return cross_entropy_error


def functions_with(**fns: Any) -> dict[str, Any]:
    return {"functions": SimpleNamespace(**{**BOOK_FUNCTIONS, **fns})}


@pytest.mark.parametrize(
    "softmax, main_lost, robust_lost",
    [
        (naive_softmax, set(), {"large_scores"}),
        (D.softmax, set(), set()),
        (whole_batch_softmax, {"out"}, set()),
    ],
)
def test_book_softmax_verdicts(softmax: Callable[..., Any], main_lost: set[str], robust_lost: set[str]) -> None:
    spec = registry.get("softmax")
    main, robust, runs = verdict(spec, functions_with(softmax=softmax))
    assert (main, robust) == (main_lost, robust_lost), messages(runs)


def test_book_softmax_without_max_shift_is_named_overflow() -> None:
    spec = registry.get("softmax")
    _, _, runs = verdict(spec, functions_with(softmax=naive_softmax))
    assert diagnosed(spec, runs) == {"softmax overflow"}


@pytest.mark.parametrize(
    "cross_entropy, main_lost, robust_lost, named",
    [
        (book_cross_entropy(delta=0.0), set(), {"zero_probability"}, {"no 1e-7 inside the log"}),
        (book_cross_entropy(), set(), set(), set()),
        (book_cross_entropy(clip=True), set(), set(), set()),
        (book_cross_entropy(mean=False), {"out"}, set(), {"cross entropy summed over the batch"}),
    ],
)
def test_cross_entropy_accepts_both_conventions(
    cross_entropy: Callable[..., float], main_lost: set[str], robust_lost: set[str], named: set[str]
) -> None:
    spec = registry.get("cross_entropy_error")
    main, robust, runs = verdict(spec, functions_with(cross_entropy_error=cross_entropy))
    assert (main, robust) == (main_lost, robust_lost), messages(runs)
    assert diagnosed(spec, runs) == named


def test_cross_entropy_with_a_wrong_delta_still_fails() -> None:
    """Both conventions, not any: log(y + 1e-3) is neither."""
    spec = registry.get("cross_entropy_error")
    main, _, _ = verdict(spec, functions_with(cross_entropy_error=book_cross_entropy(delta=1e-3)))
    assert main == {"out"}


# ---------------------------------------------------------------- the book's SoftmaxWithLoss
class InlineLossWithoutDelta(RL.SoftmaxWithLoss):
    """Real student code: the layer's own loss, -mean(log(y[true])), without the book's 1e-7."""

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = np.asarray(t)
        self.y = D.softmax(x)
        labels = t.argmax(axis=1) if t.size == self.y.size else t
        with np.errstate(divide="ignore"):
            self.loss = float(-np.mean(np.log(self.y[np.arange(len(x)), labels])))
        return self.loss


class LogSoftmaxLayer(RL.SoftmaxWithLoss):
    """Correct, written differently: the exact log-softmax loss (800 where the book's gives 16.1)."""

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.t = np.asarray(t)
        self.y = D.softmax(x)
        labels = t.argmax(axis=1) if t.size == self.y.size else t
        shifted = x - x.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.loss = float(-log_p[np.arange(len(x)), labels].mean())
        return self.loss


def layer_calling(cross_entropy: Callable[..., float]) -> type:
    """The book's layer, built on a given cross_entropy_error (as common/layers.py imports it)."""

    class BookLayer(RL.SoftmaxWithLoss):
        def forward(self, x: np.ndarray, t: np.ndarray) -> float:
            self.t = np.asarray(t)
            self.y = D.softmax(x)
            self.loss = cross_entropy(self.y, self.t)
            return self.loss

    return BookLayer


class NotDividedLayer(RL.SoftmaxWithLoss):
    def backward(self, dout: float = 1) -> np.ndarray:
        assert self.t is not None
        return super().backward(dout) * self.t.shape[0]


def book_modules(layer: type, cross_entropy: Callable[..., float] = D.cross_entropy_error) -> dict[str, Any]:
    return {"layers": SimpleNamespace(SoftmaxWithLoss=layer), **functions_with(cross_entropy_error=cross_entropy)}


@pytest.mark.parametrize(
    "modules, main_lost, robust_lost",
    [
        (book_modules(InlineLossWithoutDelta), set(), {"zero_probability"}),
        (book_modules(LogSoftmaxLayer), set(), set()),
        (book_modules(RL.SoftmaxWithLoss), set(), set()),
        (book_modules(NotDividedLayer), {"dx_onehot", "dx_labels"}, set()),
    ],
    ids=["inline-no-delta", "log-softmax", "book", "not-divided"],
)
def test_softmax_with_loss_verdicts(modules: dict[str, Any], main_lost: set[str], robust_lost: set[str]) -> None:
    spec = registry.get("SoftmaxWithLoss")
    main, robust, runs = verdict(spec, modules)
    assert (main, robust) == (main_lost, robust_lost), messages(runs)


def test_softmax_with_loss_does_not_charge_its_cross_entropy_errors_missing_delta() -> None:
    """The layer calls the student's cross_entropy_error without 1e-7: the inf is that function's, and its
    own zero_probability check charges it; the layer keeps every point."""
    no_delta = book_cross_entropy(delta=0.0)
    spec = registry.get("SoftmaxWithLoss")
    main, robust, runs = verdict(spec, book_modules(layer_calling(no_delta), no_delta))
    assert (main, robust) == (set(), set()), messages(runs)
    assert all(not np.isfinite(r.actual["loss_onehot"]) for r in runs if "y_softmax" in r.case)


def test_softmax_with_loss_charges_an_inf_its_cross_entropy_error_does_not_give() -> None:
    """The student's cross_entropy_error is the book's (finite), so the layer's own inf is the layer's."""
    spec = registry.get("SoftmaxWithLoss")
    _, robust, _ = verdict(spec, book_modules(InlineLossWithoutDelta, D.cross_entropy_error))
    assert robust == {"zero_probability"}


# ---------------------------------------------------------------- the domains
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_softmax_loss_main_cases_are_ordinary(data: st.DataObject) -> None:
    """No exp overflow and every correct class's probability above 2e-10, where log(p + 1e-20) is exact."""
    case = data.draw(registry.get("softmax_loss").cases())
    x, y = case["x"], case["y"]
    assert np.max(np.abs(x)) <= 50.0
    assert np.min(D.softmax(x)[np.arange(len(y)), y]) > 2e-10


def test_softmax_loss_robustness_cases_reach_what_they_name() -> None:
    spec = registry.get("softmax_loss")
    large, tiny = spec.robustness
    assert [r.name for r in spec.robustness] == ["large_scores", "tiny_probabilities"]
    for case in large.cases():
        assert np.min(np.max(np.abs(case["x"]), axis=1)) > OVERFLOW_LOGIT  # every row beyond exp's range
    for case in tiny.cases():
        p = D.softmax(case["x"])[0, case["y"][0]]
        assert 1e-300 < p < 1e-18


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_cross_entropy_main_cases_have_no_zero_probability(data: st.DataObject) -> None:
    case = data.draw(registry.get("cross_entropy_error").cases())
    y = np.atleast_2d(case["y"])
    t = np.asarray(case["t"])
    labels = t.reshape(y.shape).argmax(axis=1) if t.size == y.size else t.reshape(-1)
    assert np.min(y[np.arange(len(y)), labels]) > 1e-6


def test_zero_probability_cases_hold_a_true_class_of_probability_zero() -> None:
    for name in ("cross_entropy_error", "SoftmaxWithLoss"):
        spec = registry.get(name)
        for case in spec.robustness[0].cases():
            y = case["y"] if "y" in case else D.softmax(case["x"])
            labels = case["t"] if "t" in case else case["t_labels"]
            assert y[0, labels[0]] == 0.0


# ---------------------------------------------------------------- the reference on scale and robustness cases
@pytest.mark.parametrize("name", LOSS_SPECS)
def test_reference_matches_torch_on_scale_and_robustness_cases(name: str) -> None:
    spec = registry.get(name)
    assert spec.torch_expected is not None
    cases = spec.scale_cases() + [c for r in spec.robustness if r.cases is not None for c in r.cases()]
    assert spec.scale_cases(), f"{name} has no scale case"
    for case in cases:
        ours = spec.expected(copy.deepcopy(case))
        theirs = spec.torch_expected(copy.deepcopy(case))
        for check in spec.checks:
            for output in check.output_names:
                if output in theirs:
                    result = compare_arrays(output, ours[output], theirs[output], check.atol, check.rtol)
                    assert result.passed, f"{name}: {result.message}"


@pytest.mark.parametrize("name", LOSS_SPECS)
def test_reference_keeps_full_marks_on_scale_and_robustness_cases(name: str) -> None:
    spec = registry.get(name)
    modules = {**cs231n(), **functions_with()}
    if spec.api == "class":
        modules["layers"] = RL
    cases = spec.scale_cases() + [c for r in spec.robustness if r.cases is not None for c in r.cases()]
    runs = run(spec, cases, modules)
    assert not failing(runs), messages(runs)


# ---------------------------------------------------------------- end to end through the sandbox
def _graded(base: str, assignment: str, patches: list[Patch], only: set[str], folder: Path) -> dict[str, Any]:
    tree = apply_patches(read_tree(EXAMPLES / base / "submission"), patches, "test")
    write_tree(tree, folder / "submission")
    report = grade(folder / "submission", assignments.load(assignment),
                   GradeOptions(profile="quick", only=frozenset(only)))
    shutil.rmtree(folder / "submission")
    return {f["name"]: f for f in report["functions"]}


def _lost(entry: dict[str, Any]) -> set[str]:
    return {c["name"] for c in entry["checks"] if not c["passed"]}


def test_end_to_end_the_2017_cross_entropy_loses_only_its_zero_probability_check(tmp_path: Path) -> None:
    """The book's code before its errata (no 1e-7) through the real worker: cross_entropy_error loses only
    robust:zero_probability, and SoftmaxWithLoss, which calls it, loses nothing."""
    patch = Patch("common/functions.py", "np.log(correct + delta)", "np.log(correct)")
    functions = _graded("dlfs-seed-ch05", "dlfs", [patch], {"cross_entropy_error", "SoftmaxWithLoss"}, tmp_path)
    assert _lost(functions["cross_entropy_error"]) == {"robust:zero_probability"}
    assert functions["cross_entropy_error"]["status"] == "partial"
    assert "1e-7" in " ".join(functions["cross_entropy_error"]["diagnosis"])
    assert _lost(functions["SoftmaxWithLoss"]) == set()


def test_end_to_end_softmax_loss_summed_fails_the_main_checks_and_earns_no_robustness(tmp_path: Path) -> None:
    """Summed instead of averaged is wrong on every main case: both main checks fail, and the robustness
    checks, which it would pass by themselves (it is shift invariant), earn nothing for a function whose every
    output is wrong (graders/function_report.py)."""
    patches = [Patch("assignment2/cs231n/layers.py", "    loss /= N\n", ""),
               Patch("assignment2/cs231n/layers.py", "    dx /= N\n    return loss, dx", "    return loss, dx")]
    functions = _graded("cs231n-correct-loops", "cs231n-a2", patches, {"softmax_loss"}, tmp_path)
    entry = functions["softmax_loss"]
    assert _lost(entry) == {"loss", "dx", "robust:large_scores", "robust:tiny_probabilities"}
    robust = [c for c in entry["checks"] if c["name"].startswith("robust:")]
    assert all(c["message"].startswith("not judged: softmax_loss fails its main checks") for c in robust)


def main_cases(spec: Spec) -> list[Case]:
    """What decides the main checks: the fixed, 15 property and the scale cases."""
    return drawn_main_cases(spec, 15)
