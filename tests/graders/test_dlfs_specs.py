"""The dlfs specs (graders/specs/dlfs) as a grader uses them.

* The reference gets full marks through each spec's own program, and so does correct code written differently
  (the book's in-place Relu, a log-softmax loss without 1e-7, binomial dropout masks, another finite-difference
  step).
* Each spec-specific diagnosis names the bug of a small buggy implementation in the book's style written here,
  and only that bug; correct code triggers none.
* What torch cannot verify is verified another way: numerical_gradient against the support functions' exact
  gradients, im2col/col2im by adjointness, TwoLayerNet's numerical gradient against backpropagation, and
  load_mnist's expected values against the IDX files' md5 and the reference loader.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.checks import compare_arrays
from graders.sandbox.inprocess import run_case
from graders.sandbox.support import nngrade_support as SUPPORT
from graders.specs import registry
from graders.specs.base import Case, CaseRun, Spec
from graders.specs.dlfs import FACTORIES
from graders.specs.dlfs.common import PROBABILITY_FLOOR
from graders.specs.dlfs.mnist import format_mnist
from graders.specs.program import Const
from reference import dlfs as D
from reference import layers as RL
from reference.data.mnist import MNIST_MD5
from tests.graders.drawn import main_cases, robustness_cases
from tests.graders.reference_modules import DLFS

LAYER_NAMES = (
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Dropout",
    "BatchNormalization",
    "Convolution",
    "Pooling",
)
REFERENCE: dict[str, Any] = DLFS
WITHOUT_DATA = [name for name in FACTORIES if name != "load_mnist"]


def runs_of(spec: Spec, cases: Sequence[Case], **modules: Any) -> list[CaseRun]:
    return [run_case(spec, case, {**REFERENCE, **modules}) for case in cases]


def diagnosed(spec: Spec, runs: Sequence[CaseRun]) -> set[str]:
    return {d.name for d in spec.diagnoses if d.applies(runs)}


def failing_checks(runs: Sequence[CaseRun]) -> set[str]:
    return {name for r in runs for name, v in r.verdicts.items() if not v.passed}


def failures(runs: Sequence[CaseRun]) -> list[str]:
    return [f"{n}: {v.message}" for r in runs for n, v in r.verdicts.items() if not v.passed]


def layers_with(**classes: Any) -> SimpleNamespace:
    """The reference layer classes with some replaced by the test's own."""
    return SimpleNamespace(**{**{n: getattr(RL, n) for n in LAYER_NAMES}, **classes})


# ---------------------------------------------------------------- the reference passes its own programs
def test_dlfs_spec_names_do_not_collide_and_are_the_books() -> None:
    assert set(WITHOUT_DATA) | {"load_mnist"} == set(FACTORIES)
    assert all(registry.get(name).name == name for name in FACTORIES)


@pytest.mark.parametrize("name", WITHOUT_DATA)
def test_reference_gets_full_marks_on_fixed_cases(name: str) -> None:
    spec = registry.get(name)
    runs = runs_of(spec, spec.fixed_cases())
    assert runs and not failing_checks(runs), failures(runs)
    assert diagnosed(spec, runs) == set()


@pytest.mark.parametrize("name", WITHOUT_DATA)
@settings(max_examples=5)
@given(data=st.data())
def test_reference_gets_full_marks_on_property_cases(name: str, data: st.DataObject) -> None:
    spec = registry.get(name)
    runs = runs_of(spec, [data.draw(spec.cases())])
    assert not failing_checks(runs), failures(runs)


# ---------------------------------------------------------------- functions.py
def naive_softmax(a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(a)
        return e / np.sum(e, axis=-1, keepdims=True)


def first_edition_softmax(a: np.ndarray) -> np.ndarray:
    """The 1-D softmax (one max, one sum over everything), used on a batch."""
    e = np.exp(a - np.max(a))
    return e / np.sum(e)


def transposed_softmax(x: np.ndarray) -> np.ndarray:
    """A correct 2-D softmax written with the transpose trick."""
    if x.ndim == 2:
        x = x.T - np.max(x.T, axis=0)
        return (np.exp(x) / np.sum(np.exp(x), axis=0)).T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def book_cross_entropy(delta: float = 1e-7, mean: bool = True) -> Callable[[np.ndarray, np.ndarray], float]:
    def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> float:
        if y.ndim == 1:
            t, y = t.reshape(1, t.size), y.reshape(1, y.size)
        if t.size == y.size:
            t = t.argmax(axis=1)
        n = y.shape[0]
        with np.errstate(divide="ignore"):
            total = -np.sum(np.log(y[np.arange(n), t.reshape(-1)] + delta))
        return float(total / n if mean else total)

    return cross_entropy_error


def functions_with(**fns: Any) -> SimpleNamespace:
    base = {"sigmoid": D.sigmoid, "softmax": D.softmax, "cross_entropy_error": D.cross_entropy_error}
    return SimpleNamespace(**{**base, **fns})


@pytest.mark.parametrize(
    "softmax, bug",
    [
        (naive_softmax, "softmax overflow"),
        (first_edition_softmax, "softmax over the whole batch"),
        (transposed_softmax, None),
    ],
)
def test_softmax_bugs_are_named(softmax: Callable[..., Any], bug: str | None) -> None:
    """On the main cases and the robustness cases together (a softmax without the max shift fails only there)."""
    spec = registry.get("softmax")
    cases = [*sample_cases(spec, 20), *robustness_cases(spec)]
    runs = runs_of(spec, cases, functions=functions_with(softmax=softmax))
    assert bool(failing_checks(runs)) == (bug is not None), failures(runs)
    assert diagnosed(spec, runs) == ({bug} if bug else set())


@pytest.mark.parametrize(
    "cross_entropy, bug",
    [
        (book_cross_entropy(delta=0.0), "no 1e-7 inside the log"),
        (book_cross_entropy(mean=False), "cross entropy summed over the batch"),
        (book_cross_entropy(), None),
    ],
)
def test_cross_entropy_bugs_are_named(cross_entropy: Callable[..., Any], bug: str | None) -> None:
    """On the main cases and the robustness cases together (no delta fails only at a zero probability)."""
    spec = registry.get("cross_entropy_error")
    cases = [*sample_cases(spec, 20), *robustness_cases(spec)]
    runs = runs_of(spec, cases, functions=functions_with(cross_entropy_error=cross_entropy))
    assert bool(failing_checks(runs)) == (bug is not None), failures(runs)
    assert diagnosed(spec, runs) == ({bug} if bug else set())


def test_a_zero_probability_costs_log_of_1e7() -> None:
    """The book's delta: a true class with probability 0 gives -log(1e-7) = 16.118..., not inf."""
    case = registry.get("cross_entropy_error").fixed_cases()[0]
    case["y"] = np.array([0.0, 1.0])
    case["t"] = np.array([1.0, 0.0])
    assert registry.get("cross_entropy_error").expected(case)["out"] == pytest.approx(-np.log(1e-7))


# ---------------------------------------------------------------- gradient.py
def book_numerical_gradient(h: float = 1e-4, kind: str = "central") -> Callable[..., np.ndarray]:
    """numerical_gradient(f, x) with np.nditer, as in the book, with one bug (kind) or none ("central")."""

    def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(x)
        it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
        while not it.finished:
            idx = it.multi_index
            tmp_val = float(x[idx])
            if kind == "forward":
                fx = f(x)
                x[idx] = tmp_val + h
                grad[idx] = (f(x) - fx) / h
            else:
                x[idx] = tmp_val + h
                fxh1 = f(x)
                x[idx] = tmp_val - h
                fxh2 = f(x)
                grad[idx] = (fxh1 - fxh2) / (2 * h)
            if kind != "no restore":
                x[idx] = tmp_val
            it.iternext()
        return grad

    return numerical_gradient


def numerical_gradient_2d(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """The book's ch. 4 version for vectors and matrices: row by row through a 1-D loop."""

    def one_dimensional(v: np.ndarray) -> np.ndarray:
        grad = np.zeros_like(v)
        for i in range(v.size):
            tmp_val = float(v[i])
            v[i] = tmp_val + 1e-4
            fxh1 = f(x)
            v[i] = tmp_val - 1e-4
            fxh2 = f(x)
            grad[i] = (fxh1 - fxh2) / 2e-4
            v[i] = tmp_val
        return grad

    if x.ndim == 1:
        return one_dimensional(x)
    grad = np.zeros_like(x)
    for i, row in enumerate(x):
        grad[i] = one_dimensional(row)
    return grad


@pytest.mark.parametrize(
    "numerical_gradient, failing, bug",
    [
        (book_numerical_gradient(kind="forward"), {"grad"}, "one-sided difference"),
        (book_numerical_gradient(h=1e-5, kind="forward"), {"grad"}, "one-sided difference"),
        (book_numerical_gradient(kind="no restore"), {"x_restored"}, "x not restored"),
        (numerical_gradient_2d, {"grad", "x_restored"}, "only 1-D / 2-D x"),
        (book_numerical_gradient(), set(), None),
        (book_numerical_gradient(h=1e-5), set(), None),
    ],
)
def test_numerical_gradient_bugs_are_named(
    numerical_gradient: Callable[..., Any], failing: set[str], bug: str | None
) -> None:
    spec = registry.get("numerical_gradient")
    gradient = SimpleNamespace(numerical_gradient=numerical_gradient)
    runs = runs_of(spec, sample_cases(spec, 20), gradient=gradient)
    assert failing_checks(runs) == failing, failures(runs)
    assert diagnosed(spec, runs) == ({bug} if bug else set())


@settings(max_examples=30)
@given(data=st.data())
def test_a_one_sided_difference_fails_on_every_case(data: st.DataObject) -> None:
    """The cases keep |x| in [0.4, 1.2], where both support functions curve: O(h) errors always show."""
    spec = registry.get("numerical_gradient")
    case = data.draw(spec.cases())
    runs = runs_of(spec, [case], gradient=SimpleNamespace(numerical_gradient=book_numerical_gradient(kind="forward")))
    assert not runs[0].verdicts["grad"].passed


@pytest.mark.parametrize("name", ["quadratic", "wavy"])
def test_support_gradients_are_exact(name: str) -> None:
    f, grad = getattr(SUPPORT, name), getattr(SUPPORT, f"{name}_grad")
    x = np.random.default_rng(3).uniform(-2, 2, (2, 3, 2))
    numeric = D.numerical_gradient(f, x.copy(), h=1e-5)
    assert compare_arrays("grad", grad(x), numeric, 1e-8, 1e-7).passed


# ---------------------------------------------------------------- util.py
def im2col_ky_kx_c(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    col = D.im2col(x, fh, fw, stride, pad)
    return col.reshape(col.shape[0], x.shape[1], fh, fw).transpose(0, 2, 3, 1).reshape(col.shape[0], -1)


def col2im_overwriting(
    col: np.ndarray, input_shape: tuple[int, ...], fh: int, fw: int, stride: int = 1, pad: int = 0
) -> np.ndarray:
    """The book's loop over filter taps, with = where += belongs."""
    n, c, h, w = input_shape
    out_h, out_w = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    col = col.reshape(n, out_h, out_w, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
    for y in range(fh):
        for x in range(fw):
            img[:, :, y : y + stride * out_h : stride, x : x + stride * out_w : stride] = col[:, :, y, x]
    return img[:, :, pad : h + pad, pad : w + pad]


def test_im2col_column_order_is_named() -> None:
    spec = registry.get("im2col")
    util = SimpleNamespace(im2col=im2col_ky_kx_c, col2im=D.col2im)
    runs = runs_of(spec, sample_cases(spec, 15), util=util)
    assert failing_checks(runs) == {"out"}
    assert diagnosed(spec, runs) == {"im2col column order"}


def test_col2im_overwriting_is_named() -> None:
    spec = registry.get("col2im")
    util = SimpleNamespace(im2col=D.im2col, col2im=col2im_overwriting)
    runs = runs_of(spec, sample_cases(spec, 25), util=util)
    assert failing_checks(runs) == {"out"}
    assert diagnosed(spec, runs) == {"col2im overwrites overlaps"}


@settings(max_examples=30)
@given(data=st.data())
def test_reference_col2im_is_the_adjoint_of_im2col(data: st.DataObject) -> None:
    """<im2col(x), c> == <x, col2im(c)>: what torch's fold/unfold also satisfy, checked without torch."""
    case = data.draw(registry.get("im2col").cases())
    geometry = [case[k] for k in ("filter_h", "filter_w", "stride", "pad")]
    col = D.im2col(case["x"], *geometry)
    c = np.random.default_rng(0).standard_normal(col.shape)
    left = float(np.sum(col * c))
    right = float(np.sum(case["x"] * D.col2im(c, case["x"].shape, *geometry)))
    assert left == pytest.approx(right, rel=1e-10, abs=1e-10)


# ---------------------------------------------------------------- layers.py: Relu, Affine, SoftmaxWithLoss
class BookRelu:
    """The book's Relu: backward zeroes dout in place and returns it."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout[self.mask] = 0
        return dout


def test_the_books_in_place_relu_keeps_full_marks() -> None:
    spec = registry.get("Relu")
    assert "dout" in spec.read_only  # so the grader warns about the in-place write
    runs = runs_of(spec, sample_cases(spec), layers=layers_with(Relu=BookRelu))
    assert not failing_checks(runs), failures(runs)


class AffineKeepingFlatDx(RL.Affine):
    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx = super().backward(dout)
        return dx.reshape(dx.shape[0], -1)


def test_affine_shape_not_restored_is_named() -> None:
    spec = registry.get("Affine")
    runs = runs_of(spec, sample_cases(spec), layers=layers_with(Affine=AffineKeepingFlatDx))
    assert failing_checks(runs) == {"dx"}
    assert diagnosed(spec, runs) == {"input shape not restored"}


class SoftmaxWithLossSummed(RL.SoftmaxWithLoss):
    def backward(self, dout: float = 1) -> np.ndarray:
        assert self.t is not None
        return super().backward(dout) * self.t.shape[0]


class LogSoftmaxLoss:
    """Correct, written differently: log-softmax without the book's 1e-7, labels from one-hot by argmax."""

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.labels = t.argmax(axis=1) if t.ndim == 2 else t
        shifted = x - x.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p = np.exp(log_p)
        return float(-log_p[np.arange(len(x)), self.labels].mean())

    def backward(self, dout: float = 1) -> np.ndarray:
        dx = self.p.copy()
        dx[np.arange(len(dx)), self.labels] -= 1
        return dout * dx / len(dx)


def test_softmax_with_loss_not_divided_is_named() -> None:
    spec = registry.get("SoftmaxWithLoss")
    runs = runs_of(spec, sample_cases(spec), layers=layers_with(SoftmaxWithLoss=SoftmaxWithLossSummed))
    assert failing_checks(runs) == {"dx_onehot", "dx_labels"}
    assert diagnosed(spec, runs) == {"backward not divided by the batch size"}


def test_a_log_softmax_loss_without_the_books_delta_keeps_full_marks() -> None:
    spec = registry.get("SoftmaxWithLoss")
    runs = runs_of(spec, sample_cases(spec, 30), layers=layers_with(SoftmaxWithLoss=LogSoftmaxLoss))
    assert not failing_checks(runs), failures(runs)


@settings(max_examples=50)
@given(data=st.data())
def test_softmax_with_loss_cases_keep_true_probabilities_above_the_floor(data: st.DataObject) -> None:
    case = data.draw(registry.get("SoftmaxWithLoss").cases())
    p = D.softmax(case["x"])[np.arange(len(case["x"])), case["t_labels"]]
    assert p.min() >= PROBABILITY_FLOOR


# ---------------------------------------------------------------- Dropout
class InvertedDropout(RL.Dropout):
    """cs231n's convention in the book's class: scaled at train time, identity at test time."""

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask / (1.0 - self.dropout_ratio)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.mask is not None
        return dout * self.mask / (1.0 - self.dropout_ratio)


class RatioAsKeepDropout(RL.Dropout):
    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if train_flg:
            self.mask = np.random.rand(*x.shape) < self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.mask is not None
        return dout * self.mask


class BinomialDropout:
    """Correct, written differently: a binomial keep mask from a Generator."""

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        self.ratio = dropout_ratio
        self.rng = np.random.default_rng(7)

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if not train_flg:
            return x * (1 - self.ratio)
        self.keep = self.rng.binomial(1, 1 - self.ratio, size=x.shape).astype(bool)
        return np.where(self.keep, x, 0.0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self.keep, dout, 0.0)


@pytest.mark.parametrize(
    "cls, failing, bug",
    [
        (InvertedDropout, {"kept_unchanged", "test_scale"}, "inverted dropout"),
        (RatioAsKeepDropout, {"keep_rate"}, "dropout_ratio taken as keep probability"),
        (BinomialDropout, set(), None),
    ],
)
def test_dropout_bugs_are_named(cls: type, failing: set[str], bug: str | None) -> None:
    spec = registry.get("Dropout")
    runs = runs_of(spec, sample_cases(spec, 6), layers=layers_with(Dropout=cls))
    assert failing_checks(runs) == failing, failures(runs)
    assert diagnosed(spec, runs) == ({bug} if bug else set())


# ---------------------------------------------------------------- BatchNormalization
class BookBatchNorm:
    """The book's BatchNormalization in a compact form, with one bug (or none)."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9, bug: str = "") -> None:
        self.gamma, self.beta, self.momentum, self.bug = gamma, beta, momentum, bug
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        self.shape = x.shape
        x = x.reshape(x.shape[0], -1)
        eps = 0.0 if self.bug == "no eps" else 10e-7
        if self.running_mean is None:
            self.running_mean, self.running_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        assert self.running_var is not None
        keep = 1 - self.momentum if self.bug == "swapped" else self.momentum
        if train_flg:
            mu = x.mean(axis=0)
            self.xc = x - mu
            var = np.var(x, axis=0, ddof=1 if self.bug == "unbiased" else 0)
            self.std = np.sqrt(var + eps)
            self.xn = self.xc / self.std
            self.running_mean = keep * self.running_mean + (1 - keep) * mu
            self.running_var = keep * self.running_var + (1 - keep) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + eps)
        return (self.gamma * xn + self.beta).reshape(self.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.reshape(dout.shape[0], -1)
        n = dout.shape[0]
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dx = (n * dxn - dxn.sum(axis=0) - self.xn * np.sum(dxn * self.xn, axis=0)) / (n * self.std)
        return dx.reshape(self.shape)


@pytest.mark.parametrize(
    "bug, failing, name",
    [
        # One bug costs points once: the test-mode output is also judged with the running statistics the layer
        # holds, and the gradients against finite differences of the student's own forward.
        ("unbiased", {"out", "running_var", "dx", "dgamma"}, "unbiased variance"),
        ("no eps", {"out", "out_test"}, "eps missing or misplaced"),
        ("swapped", {"running_mean", "running_var"}, "momentum swapped"),
        ("", set(), None),
    ],
)
def test_batchnorm_bugs_are_named(bug: str, failing: set[str], name: str | None) -> None:
    spec = registry.get("BatchNormalization")
    layer = functools.partial(BookBatchNorm, bug=bug)
    runs = runs_of(spec, sample_cases(spec, 15), layers=layers_with(BatchNormalization=layer))
    assert failing_checks(runs) == failing, failures(runs)
    assert diagnosed(spec, runs) == ({name} if name else set())


# ---------------------------------------------------------------- Convolution, Pooling
class BookConvolution:
    """The book's im2col convolution; ``stride_used``/``pad_used`` replace the layer's own when set (bugs)."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, **bug: int) -> None:
        self.W, self.b = W, b
        self.stride, self.pad = bug.get("stride_used", stride), bug.get("pad_used", pad)

    def forward(self, x: np.ndarray) -> np.ndarray:
        fn, _, fh, fw = self.W.shape
        n, _, h, w = x.shape
        out_h = 1 + (h + 2 * self.pad - fh) // self.stride
        out_w = 1 + (w + 2 * self.pad - fw) // self.stride
        self.x, self.col = x, D.im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = self.W.reshape(fn, -1).T
        out = self.col @ self.col_W + self.b
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        fn, c, fh, fw = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).T.reshape(fn, c, fh, fw)
        return D.col2im(dout @ self.col_W.T, self.x.shape, fh, fw, self.stride, self.pad)


class BookPooling:
    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0, **bug: int) -> None:
        self.pool_h, self.pool_w, self.pad = pool_h, pool_w, pad
        self.stride = bug.get("stride_used", stride)

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        out_h, out_w = 1 + (h - self.pool_h) // self.stride, 1 + (w - self.pool_w) // self.stride
        col = D.im2col(x, self.pool_h, self.pool_w, self.stride, self.pad).reshape(-1, self.pool_h * self.pool_w)
        self.x, self.arg_max = x, np.argmax(col, axis=1)
        return np.max(col, axis=1).reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.transpose(0, 2, 3, 1)
        size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dcol = dmax.reshape(-1, dout.shape[3] * size)
        return D.col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


@pytest.mark.parametrize(
    "bug, name",
    [({"stride_used": 1}, "stride ignored"), ({"pad_used": 0}, "pad ignored"), ({}, None)],
)
def test_convolution_bugs_are_named(bug: dict[str, int], name: str | None) -> None:
    spec = registry.get("Convolution")
    layer = functools.partial(BookConvolution, **bug)
    runs = runs_of(spec, sample_cases(spec, 25), layers=layers_with(Convolution=layer))
    assert bool(failing_checks(runs)) == (name is not None), failures(runs)
    assert diagnosed(spec, runs) == ({name} if name else set())


@pytest.mark.parametrize("bug, name", [({"stride_used": 1}, "stride ignored"), ({}, None)])
def test_pooling_bugs_are_named(bug: dict[str, int], name: str | None) -> None:
    spec = registry.get("Pooling")
    layer = functools.partial(BookPooling, **bug)
    runs = runs_of(spec, sample_cases(spec, 25), layers=layers_with(Pooling=layer))
    assert bool(failing_checks(runs)) == (name is not None), failures(runs)
    assert diagnosed(spec, runs) == ({name} if name else set())


@settings(max_examples=40)
@given(data=st.data())
def test_pooling_cases_are_tie_free_and_unpadded(data: st.DataObject) -> None:
    """The book's Pooling ignores pad in its output size, so no case may need padding; ties would make the
    first-max gradient one valid answer among several."""
    spec = registry.get("Pooling")
    case = data.draw(spec.cases())
    program = spec.program(case)
    assert program.steps[0].args[-1] == Const(0)
    values = np.sort(case["x"].ravel())
    assert np.all(np.diff(values) > 0.05)


# ---------------------------------------------------------------- TwoLayerNet
@settings(max_examples=10)
@given(data=st.data())
def test_reference_numerical_gradient_of_the_net_agrees_with_backpropagation(data: st.DataObject) -> None:
    spec = registry.get("TwoLayerNet")
    case = data.draw(st.one_of(st.sampled_from(spec.fixed_cases()), spec.cases()))
    expected = spec.expected(case)
    check = spec.check("numerical_gradient")
    for key in ("W1", "b1", "W2", "b2"):
        verdict = compare_arrays(key, expected[f"numgrad_{key}"], expected[f"grad_{key}"], check.atol, check.rtol)
        assert verdict.passed, verdict.message


class NetWithCopiedParams(D.TwoLayerNet):
    """A net whose layers hold copies of the parameters: writing net.params does not reach them."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for w, b, name in (("W1", "b1", "Affine1"), ("W2", "b2", "Affine2")):
            layer = self.layers[name]
            assert isinstance(layer, RL.Affine)
            layer.W, layer.b = self.params[w].copy(), self.params[b].copy()


def test_a_net_whose_layers_copy_the_parameters_fails() -> None:
    spec = registry.get("TwoLayerNet")
    net = SimpleNamespace(TwoLayerNet=NetWithCopiedParams)
    runs = runs_of(spec, sample_cases(spec, 3), two_layer_net=net)
    assert {"predict", "loss", "gradient"} <= failing_checks(runs)


# ---------------------------------------------------------------- load_mnist
def test_shared_mnist_files_have_the_published_md5(mnist_dir: Path) -> None:
    for base, digest in MNIST_MD5.items():
        path = mnist_dir / f"{base}.gz"
        data = gzip.decompress(path.read_bytes()) if path.exists() else (mnist_dir / base).read_bytes()
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == digest


OPTION_COMBINATIONS = [(a, b, c) for a in (True, False) for b in (True, False) for c in (True, False)]


@pytest.mark.parametrize("normalize, flatten, one_hot", OPTION_COMBINATIONS)
def test_expected_mnist_samples_are_the_reference_loaders(
    mnist_dir: Path, normalize: bool, flatten: bool, one_hot: bool
) -> None:
    """The spec formats one raw load for every option combination; that must be what the reference returns."""
    spec = registry.get("load_mnist")
    case = {"normalize": normalize, "flatten": flatten, "one_hot_label": one_hot}
    expected = spec.expected(case)
    (x_train, t_train), (x_test, t_test) = D.load_mnist(normalize, flatten, one_hot, data_dir=mnist_dir)
    for split, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        assert expected[f"x_{split}_shape"] == x.shape and expected[f"t_{split}_shape"] == t.shape
        for name, rows in (("head", slice(0, 64)), ("tail", slice(-64, None))):
            np.testing.assert_array_equal(expected[f"x_{split}_{name}"], x[rows])
            assert expected[f"x_{split}_{name}"].dtype == x.dtype
            np.testing.assert_array_equal(expected[f"t_{split}_{name}"], t[rows])


def test_format_mnist_follows_the_books_options() -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    labels = np.array([3, 9], dtype=np.uint8)
    x, t = format_mnist(images, labels, {"normalize": True, "flatten": False, "one_hot_label": True})
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.float32 and x.max() <= 1.0
    assert t.shape == (2, 10) and t[0, 3] == 1.0 and t.sum() == 2.0


def test_reference_loader_gets_full_marks(mnist_dir: Path) -> None:
    spec = registry.get("load_mnist")
    mnist = SimpleNamespace(load_mnist=functools.partial(D.load_mnist, data_dir=mnist_dir))
    runs = runs_of(spec, spec.fixed_cases(), mnist=mnist)
    assert not failing_checks(runs), failures(runs)


def test_a_loader_dividing_by_256_loses_the_image_checks(mnist_dir: Path) -> None:
    def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False) -> Any:
        (x_train, t_train), (x_test, t_test) = D.load_mnist(False, flatten, one_hot_label, data_dir=mnist_dir)
        if normalize:
            x_train, x_test = x_train / 256.0, x_test / 256.0
        return (x_train, t_train), (x_test, t_test)

    spec = registry.get("load_mnist")
    runs = runs_of(spec, spec.fixed_cases(), mnist=SimpleNamespace(load_mnist=load_mnist))
    assert failing_checks(runs) == {"x_train", "x_test"}


def sample_cases(spec: Spec, count: int = 12) -> list[Case]:
    """The fixed cases and ``count`` property cases (no scale cases: these tests run many students)."""
    return main_cases(spec, count, scale=False)
