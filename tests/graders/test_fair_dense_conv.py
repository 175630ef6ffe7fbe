"""Fair verdicts for the affine, ReLU, conv and pool layers (cs231n) and the book's util, Convolution and friends.

* One bug costs points once: a backward whose forward is wrong, or raises on some cases, keeps its points (it
  is judged with the hand-out's cache there); a student's own cache layout, consistent in forward and
  backward, keeps full marks; a wrong backward still loses points, whichever way it is judged.
* relu_forward writing into x keeps the output's points and loses only the small robustness check
  "inputs_unchanged", whose sentence says why it matters (the cache for the backward pass).
* The book's col2im with a typo (out_w computed from H) costs col2im its points, and Convolution only its dx:
  out, dW and db are computed before col2im raises.
* Every spec of these families (but TwoLayerNet and load_mnist) has realistic-size cases, which the
  reference passes.

The student code here is written for these tests (small overrides of the reference layers).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from graders import assignment as assignments
from graders.assignment import Assignment
from graders.backward import HANDOUT
from graders.grade import GradeOptions, grade
from graders.sandbox.inprocess import run_case
from graders.sandbox.support import nngrade_support as SUPPORT
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.pool import pool_scale
from reference import dlfs as D
from reference.cs231n import conv as RC
from reference.cs231n import layers as RL
from tests.graders.conftest import CORRECT_VECTORISED, GradeFn, by_name, full_marks, with_override, write_tree
from tests.graders.drawn import main_cases

EXAMPLES = Path(__file__).resolve().parents[2] / "submissions" / "examples"
CONV_NAMES = ("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive")
REFERENCE_LAYERS: dict[str, Any] = {**vars(RL), **{n: getattr(RC, n) for n in CONV_NAMES}}


# ---------------------------------------------------------------- helpers
def student(**overrides: Callable[..., Any]) -> dict[str, Any]:
    """The modules of a student who wrote the reference's layers except ``overrides``."""
    return {"layers": SimpleNamespace(**{**REFERENCE_LAYERS, **overrides})}


def runs_of(name: str, modules: dict[str, Any], count: int = 10) -> list[CaseRun]:
    spec = registry.get(name)
    return [run_case(spec, case, modules) for case in sample_cases(spec, count)]


def marks(spec: Spec, runs: Sequence[CaseRun]) -> dict[str, bool]:
    """Each main check's verdict as the report gives it: it held on every judged case (and some case was
    judged)."""
    judged = [r for r in runs if r.unjudged is None]
    return {c.name: bool(judged) and all(r.verdicts[c.name].passed for r in judged) for c in spec.checks}


def all_marks(name: str, runs: Sequence[CaseRun]) -> bool:
    return all(marks(registry.get(name), runs).values())


def handout_judged(runs: Sequence[CaseRun]) -> int:
    """How many runs had some check judged with the hand-out's cache."""
    return sum(1 for r in runs if HANDOUT in r.judged_by.values())


# ---------------------------------------------------------------- forwards with a bug, and their backwards
def affine_forward_no_bias(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    return x.reshape(x.shape[0], -1) @ w, (x, w, b)


def affine_forward_flat_cache(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """Right output, but the cache keeps the flattened x: the reference backward then returns dx (N, D)."""
    flat = x.reshape(x.shape[0], -1)
    return flat @ w + b, (flat, w, b)


def affine_forward_not_written(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    raise NotImplementedError("TODO: implement the affine forward pass")


def relu_forward_in_place(x: np.ndarray) -> tuple[np.ndarray, Any]:
    np.maximum(x, 0, out=x)
    return x, x


def relu_backward_mask_on_negatives(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Right with the hand-out's cache; with a cache that was clipped in place, x < 0 is never true."""
    dx = dout.copy()
    dx[cache < 0] = 0
    return dx


def conv_forward_strided_raises(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
                                ) -> tuple[np.ndarray, Any]:
    if conv_param["stride"] > 1:
        raise ValueError("could not broadcast input array from shape (3,2) into shape (3,3)")
    return RC.conv_forward_naive(x, w, b, conv_param)


def pool_forward_averages(x: np.ndarray, pool_param: dict[str, int]) -> tuple[np.ndarray, Any]:
    """Average pooling's output, with the hand-out's cache."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out, _ = RC.max_pool_forward_naive(x, pool_param)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].mean(axis=(2, 3))
    return out, (x, pool_param)


def pool_forward_caches_out(x: np.ndarray, pool_param: dict[str, int]) -> tuple[np.ndarray, Any]:
    """Right output, wrong cache: the output in place of x."""
    out, _ = RC.max_pool_forward_naive(x, pool_param)
    return out, (out, pool_param)


@pytest.mark.parametrize(("backward", "overrides", "rescued"), [
    ("affine_backward", {"affine_forward": affine_forward_no_bias}, False),
    ("affine_backward", {"affine_forward": affine_forward_flat_cache}, True),
    ("affine_backward", {"affine_forward": affine_forward_not_written}, True),
    ("relu_backward", {"relu_forward": relu_forward_in_place, "relu_backward": relu_backward_mask_on_negatives},
     True),
    ("conv_backward_naive", {"conv_forward_naive": conv_forward_strided_raises}, True),
    ("max_pool_backward_naive", {"max_pool_forward_naive": pool_forward_averages}, False),
    ("max_pool_backward_naive", {"max_pool_forward_naive": pool_forward_caches_out}, True),
], ids=["affine-no-bias", "affine-flat-cache", "affine-not-written", "relu-in-place", "conv-raises-on-stride",
        "pool-averages", "pool-caches-out"])
def test_backward_keeps_full_marks_whatever_its_forward_does(
        backward: str, overrides: dict[str, Callable[..., Any]], rescued: bool) -> None:
    runs = runs_of(backward, student(**overrides))
    assert all_marks(backward, runs), [r.verdicts for r in runs if r.failed]
    # where the forward's cache was right, the own path was enough; where it was not, the hand-out's cache
    # decided (and the report says so)
    assert (handout_judged(runs) > 0) == rescued


def test_a_forward_that_raises_everywhere_leaves_the_backward_judged_on_every_case() -> None:
    runs = runs_of("affine_backward", student(affine_forward=affine_forward_not_written), count=5)
    assert all(r.unjudged is None for r in runs)
    assert handout_judged(runs) == len(runs)


def affine_forward_bias_twice(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    return x.reshape(x.shape[0], -1) @ w + 2 * b, (x, w, b)


@pytest.mark.parametrize(("forward", "named"), [
    (affine_forward_no_bias, {"missing_bias"}),
    (affine_forward_bias_twice, set()),
    (RL.affine_forward, set()),
], ids=["no-bias", "bias-twice", "reference"])
def test_an_affine_forward_without_bias_is_named(forward: Callable[..., Any], named: set[str]) -> None:
    spec = registry.get("affine_forward")
    runs = runs_of("affine_forward", student(affine_forward=forward), count=5)
    assert {d.name for d in spec.diagnoses if d.applies(runs)} == named


# ---------------------------------------------------------------- a layout of the student's own
def affine_forward_dict(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    return x.reshape(x.shape[0], -1) @ w + b, {"input": x, "weights": w}


def affine_backward_dict(dout: np.ndarray, cache: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    x, w = cache["input"], cache["weights"]
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def relu_forward_mask(x: np.ndarray) -> tuple[np.ndarray, Any]:
    mask = x > 0
    return x * mask, mask


def relu_backward_mask(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    return dout * cache


def conv_forward_dict(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
                      ) -> tuple[np.ndarray, Any]:
    out, _ = RC.conv_forward_naive(x, w, b, conv_param)
    return out, {"x": x, "w": w, "stride": conv_param["stride"], "pad": conv_param["pad"], "F": w.shape[0]}


def conv_backward_dict(dout: np.ndarray, cache: dict[str, Any]) -> tuple[np.ndarray, ...]:
    param = {"stride": cache["stride"], "pad": cache["pad"]}
    return RC.conv_backward_naive(dout, (cache["x"], cache["w"], np.zeros(cache["F"]), param))


def pool_forward_with_argmax(x: np.ndarray, pool_param: dict[str, int]) -> tuple[np.ndarray, Any]:
    out, _ = RC.max_pool_forward_naive(x, pool_param)
    return out, (x.shape, pool_param, x)


def pool_backward_with_argmax(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    _, pool_param, x = cache
    return RC.max_pool_backward_naive(dout, (x, pool_param))


@pytest.mark.parametrize(("backward", "overrides"), [
    ("affine_backward", {"affine_forward": affine_forward_dict, "affine_backward": affine_backward_dict}),
    ("relu_backward", {"relu_forward": relu_forward_mask, "relu_backward": relu_backward_mask}),
    ("conv_backward_naive", {"conv_forward_naive": conv_forward_dict, "conv_backward_naive": conv_backward_dict}),
    ("max_pool_backward_naive", {"max_pool_forward_naive": pool_forward_with_argmax,
                                 "max_pool_backward_naive": pool_backward_with_argmax}),
], ids=["affine-dict", "relu-mask", "conv-dict", "pool-triple"])
def test_a_cache_layout_of_ones_own_keeps_full_marks(backward: str, overrides: dict[str, Callable[..., Any]]
                                                     ) -> None:
    runs = runs_of(backward, student(**overrides))
    assert all_marks(backward, runs), [r.verdicts for r in runs if r.failed]
    assert handout_judged(runs) == 0  # judged through the student's own forward and cache


# ---------------------------------------------------------------- a wrong backward still loses points
def affine_backward_db_mean(dout: np.ndarray, cache: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    dx, dw, db = RL.affine_backward(dout, cache)
    return dx, dw, db / dout.shape[0]


def relu_backward_no_mask(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    return dout.copy()


def conv_backward_dw_flipped(dout: np.ndarray, cache: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    dx, dw, db = RC.conv_backward_naive(dout, cache)
    return dx, dw[:, :, ::-1, ::-1], db


def pool_backward_overwrites(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] = is_max * dout[:, :, i:i + 1, j:j + 1]
    return dx


@pytest.mark.parametrize(("backward", "overrides", "failing"), [
    ("affine_backward", {"affine_backward": affine_backward_db_mean}, {"db"}),
    ("affine_backward", {"affine_backward": affine_backward_db_mean, "affine_forward": affine_forward_not_written},
     {"db"}),
    ("relu_backward", {"relu_backward": relu_backward_no_mask, "relu_forward": relu_forward_in_place}, {"dx"}),
    ("conv_backward_naive", {"conv_backward_naive": conv_backward_dw_flipped}, {"dw"}),
    ("conv_backward_naive", {"conv_backward_naive": conv_backward_dw_flipped,
                             "conv_forward_naive": conv_forward_strided_raises}, {"dw"}),
    ("max_pool_backward_naive", {"max_pool_backward_naive": pool_backward_overwrites}, {"dx"}),
    ("max_pool_backward_naive", {"max_pool_backward_naive": pool_backward_overwrites,
                                 "max_pool_forward_naive": pool_forward_caches_out}, {"dx"}),
], ids=["affine-db-mean", "affine-db-mean-forward-not-written", "relu-no-mask", "conv-dw-flipped",
        "conv-dw-flipped-forward-raises", "pool-overwrites", "pool-overwrites-wrong-cache"])
def test_a_wrong_backward_loses_points_whichever_way_it_is_judged(
        backward: str, overrides: dict[str, Callable[..., Any]], failing: set[str]) -> None:
    spec = registry.get(backward)
    verdicts = marks(spec, runs_of(backward, student(**overrides)))
    assert {name for name, passed in verdicts.items() if not passed} == failing


def test_an_own_layout_backward_is_not_blamed_where_its_forward_raised() -> None:
    def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim > 2:
            raise ValueError("shapes not aligned")
        return affine_forward_dict(x, w, b)

    runs = runs_of("affine_backward", student(affine_forward=forward, affine_backward=affine_backward_dict))
    assert any(r.case["x"].ndim > 2 for r in runs) and any(r.case["x"].ndim == 2 for r in runs)
    assert all_marks("affine_backward", runs), [r.verdicts for r in runs if r.failed]


# ---------------------------------------------------------------- relu_forward writing into x (end to end)
RELU_IN_PLACE = """
def relu_forward(x):
    out = x
    out[out < 0] = 0
    return out, x


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache < 0] = 0
    return dx
"""


def test_relu_forward_writing_into_x_loses_only_the_robustness_check(
        tmp_path: Path, grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": with_override(CORRECT_VECTORISED, RELU_IN_PLACE)})
    functions = by_name(grade_submission(root))
    entry = functions["relu_forward"]
    checks = {c["name"]: c for c in entry["checks"]}
    assert checks["out"]["passed"] and checks["out"]["score"] == checks["out"]["max_score"] > 0
    robust = checks["robust:inputs_unchanged"]
    assert robust["kind"] == "robustness" and not robust["passed"] and robust["max_score"] > 0
    assert "changed x in place" in robust["message"]
    assert entry["status"] == "partial"
    assert entry["score"] == pytest.approx(entry["max_score"] - robust["max_score"])
    assert any("writes into its input x" in d and "cache for the backward pass" in d for d in entry["diagnosis"])
    # one voice: the robustness check says it, no warning calls it harmless on the same report
    assert not any("modified its input" in w for w in entry["warnings"]), entry["warnings"]
    # the backward keeps its points: its own forward clipped x, the hand-out's cache did not
    assert full_marks(functions["relu_backward"])
    assert any(HANDOUT in w for w in functions["relu_backward"]["warnings"])


def test_relu_forward_that_copies_keeps_the_robustness_check(tmp_path: Path, grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "sub", {"cs231n/layers.py": CORRECT_VECTORISED})
    entry = by_name(grade_submission(root))["relu_forward"]
    assert full_marks(entry)
    assert [c["name"] for c in entry["checks"]] == ["out", "robust:inputs_unchanged"]


# ---------------------------------------------------------------- a forward raising on some cases (end to end)
AFFINE_FORWARD_2D_ONLY = """
def affine_forward(x, w, b):
    N, D = x.shape
    return x.dot(w) + b, (x, w, b)
"""


def test_a_forward_raising_on_some_cases_costs_only_itself(tmp_path: Path, grade_submission: GradeFn) -> None:
    root = write_tree(tmp_path / "sub",
                      {"cs231n/layers.py": with_override(CORRECT_VECTORISED, AFFINE_FORWARD_2D_ONLY)})
    functions = by_name(grade_submission(root))
    assert not full_marks(functions["affine_forward"])
    backward = functions["affine_backward"]
    assert full_marks(backward)
    assert all(check["cases"] > 0 for check in backward["checks"])
    assert not any("fix affine_forward first" in d for d in backward["diagnosis"])


# ---------------------------------------------------------------- the book's col2im typo (end to end)
COL2IM_RIGHT = "    out_w = conv_output_size(W, filter_w, stride, pad)\n\n    col = col.reshape("
COL2IM_TYPO = "    out_w = conv_output_size(H, filter_w, stride, pad)\n\n    col = col.reshape("


@pytest.fixture(scope="module")
def dlfs() -> Assignment:
    return assignments.load("dlfs")


def test_col2im_typo_costs_col2im_and_only_convolutions_dx(tmp_path: Path, dlfs: Assignment) -> None:
    root = tmp_path / "sub"
    shutil.copytree(EXAMPLES / "dlfs-seed-ch05" / "submission", root)
    util = root / "common" / "util.py"
    text = util.read_text()
    assert text.count(COL2IM_RIGHT) == 1
    util.write_text(text.replace(COL2IM_RIGHT, COL2IM_TYPO))
    report = grade(root, dlfs, GradeOptions(profile="quick", only=frozenset({"col2im", "Convolution"})))
    functions = by_name(report)
    assert functions["col2im"]["score"] < functions["col2im"]["max_score"]
    convolution = {c["name"]: c for c in functions["Convolution"]["checks"]}
    assert {name for name, c in convolution.items() if not c["passed"]} == {"dx"}
    assert all(c["score"] == c["max_score"] > 0 for name, c in convolution.items() if name != "dx")
    assert any("fix col2im first" in d for d in functions["Convolution"]["diagnosis"])


# ---------------------------------------------------------------- scale cases
WITH_SCALE = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "conv_forward_naive",
              "conv_backward_naive", "conv_forward_fast", "conv_backward_fast", "max_pool_forward_naive",
              "max_pool_backward_naive", "max_pool_forward_fast", "max_pool_backward_fast", "im2col", "col2im",
              "Convolution", "Pooling", "numerical_gradient")
DLFS_MODULES: dict[str, Any] = {
    "util": SimpleNamespace(im2col=D.im2col, col2im=D.col2im),
    "gradient": SimpleNamespace(numerical_gradient=D.numerical_gradient),
    "nngrade_support": SUPPORT,
}


def reference_modules(spec: Spec) -> dict[str, Any]:
    if spec.module == "layers" and spec.api == "class":
        from reference import layers as book_layers

        return {**DLFS_MODULES, "layers": book_layers}
    if spec.module == "fast_layers":
        return {"fast_layers": RC}
    return {**DLFS_MODULES, "layers": SimpleNamespace(**REFERENCE_LAYERS)}


@pytest.mark.parametrize("name", WITH_SCALE)
def test_the_reference_passes_its_scale_cases(name: str) -> None:
    spec = registry.get(name)
    cases = spec.scale_cases()
    assert cases
    for case in cases:
        run = run_case(spec, case, reference_modules(spec))
        assert run.error is None and not run.failed, {k: v.message for k, v in run.verdicts.items()}


def test_scale_pool_inputs_are_tie_free() -> None:
    for case in pool_scale() + registry.get("Pooling").scale_cases():
        values = np.sort(case["x"], axis=None)
        assert float(np.min(np.diff(values))) >= 5e-4


def test_scale_cases_are_the_same_on_every_call() -> None:
    """Never shrunk and judged once: they must not depend on a seed drawn per grading."""
    for name in WITH_SCALE:
        spec = registry.get(name)
        first, second = spec.scale_cases(), spec.scale_cases()
        for a, b in zip(first, second, strict=True):
            assert all(np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a)


def sample_cases(spec: Spec, count: int = 10) -> list[Case]:
    """The fixed cases, ``count`` property cases and the scale cases."""
    return main_cases(spec, count)
