"""Specs of ``linear_classifier.py``: ``LinearClassifier.train`` (the minibatch and the SGD step) and
``LinearClassifier.predict``.

Both run on a subclass of the student's ``LinearClassifier`` whose ``loss`` is the grader's own softmax loss
(``nngrade_support.linear_classifier``), so they are judged whatever the student's svm and softmax losses do;
``W`` starts at the case's value. NumPy's global generator is seeded first (``nngrade_support.seed_numpy``),
so a case always gives the same draws.

Why the step is judged the way it is: the hand-out leaves the minibatch free (``np.random.choice`` with or
without replacement, a permutation, ...), and which batch a student's code drew cannot be observed. So no check
replays the grader's own draws. Instead:

* ``step``: ``train`` is called with ``num_iters = 1`` several times in a row; each call must move W by
  ``-learning_rate`` times the loss gradient of SOME batch of ``batch_size`` examples drawn from X with their own
  labels (repeats allowed). The per-example gradients g_i of the N examples are linearly independent (N <= D *
  (C - 1), generic data), so the change of W determines how often each example was drawn: the counts must come
  out as non-negative integers summing to batch_size. Right for every way of drawing; wrong for a step up the
  gradient, a missing learning rate, X and y drawn with different indices, a step on the whole data.
* ``loss_history``: each call returns a list of one loss, that batch's loss (the counts above give the batch).
* ``iterations``: ``train`` with ``num_iters = T`` on a data set whose N rows are all the same example: every
  batch is then the same, so the T steps and the T losses are determined and replayed exactly.
* ``batches``: on cases with enough steps, not every drawn example is among the first batch_size rows (code
  that slices ``X[:batch_size]`` instead of sampling). Judged only where a correct sampler draws only from the
  first batch_size rows in every step with probability below 1e-9 ((B / N) ** (K * B) bounds it, with or
  without replacement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from graders.specs.base import Case, CaseRun, Check, Diagnosis, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.cs231n_a1.common import CLASSIFIER_MODULE
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.programs import SUPPORT_MODULE
from graders.specs.kit.rules import as_numeric, compare_arrays
from graders.specs.kit.tolerances import EXACT, OPTIMIZER_STEP
from graders.specs.program import Attr, Call, Const, Expr, Func, Input, Program, Result, call, method
from reference.cs231n import linear as R

#: How close recovered draw counts must be to integers, and the residual allowed relative to the step.
COUNT_TOL, RESIDUAL_RTOL = 1e-6, 1e-7
#: The largest false-alarm probability the batches check accepts on a case.
FALSE_ALARM = 1e-9


# ---------------------------------------------------------------- train
def train() -> Spec:
    return Spec(
        name="LinearClassifier.train",
        module=CLASSIFIER_MODULE,
        api="class",
        convention="cs231n A1: train(X, y, learning_rate, reg, num_iters, batch_size, verbose) -> loss_history; a "
                   "minibatch of batch_size examples (drawn any way) and W -= learning_rate * grad per iteration",
        domain=_independent,
        cases=train_cases,
        reaches=(Reach("regularised", lambda c: c["reg"] > 0),
                 Reach("a batch of one", lambda c: c["batch_size"] == 1),
                 Reach("several steps", lambda c: c["steps"] >= 3)),
        notebook=train_notebook,
        program=train_program,
        expected=train_expected,
        verified_by="the step check's recovery accepts the reference's own train for any draw "
                    "(tests/reference/test_spec_fields.py) and rejects stepped-up or mismatched batches "
                    "(tests/reference/test_cs231n_a1.py)",
        checks=(
            Check("step", outputs=("W_1",), compare=judge_steps, points=2.0,
                  description="each iteration: W -= learning_rate * (the loss gradient on batch_size examples of "
                              "X with their own labels)"),
            Check("loss_history", compare=judge_history,
                  description="one loss per iteration, the loss of that iteration's batch"),
            Check("iterations", outputs=("W_repeated", "history_repeated"), tol=OPTIMIZER_STEP,
                  compare=judge_repeated,
                  description="num_iters steps in one call (a data set of one repeated example, so every batch "
                              "is the same)"),
            Check("batches", compare=judge_batches, points=0.5,
                  description="minibatches drawn from all N examples, not the first batch_size rows"),
        ),
        diagnoses=TRAIN_DIAGNOSES,
        read_only=("X", "y"),
    )


def _per_example(case: Case, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(losses (N,), gradients (N, D*C)) of each example alone, without the L2 term."""
    losses, grads = [], []
    for i in range(len(case["y"])):
        loss, grad = R.softmax_loss_vectorized(W, case["X"][i:i + 1], case["y"][i:i + 1], 0.0)
        losses.append(loss)
        grads.append(grad.ravel())
    return np.array(losses), np.array(grads)


def _independent(case: Case) -> bool:
    """The N per-example gradients at W0 are well conditioned (the counts are then recoverable)."""
    _, grads = _per_example(case, case["W0"])
    singular = np.linalg.svd(grads, compute_uv=False)
    return bool(singular[-1] > 1e-3 * singular[0]) and 1 <= case["batch_size"] <= len(case["y"])


def _build(rng: np.random.Generator, n: int, d: int, c: int, batch: int, steps: int, lr: float,
           reg: float) -> Case:
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n).astype(np.int64)
    y[:c] = np.arange(c)  # every class present: the hand-out sizes W from max(y) + 1
    return {"X": X, "y": y, "W0": 0.5 * rng.standard_normal((d, c)), "learning_rate": lr, "reg": reg,
            "batch_size": batch, "steps": steps, "repeats": 3, "seed": int(rng.integers(2**31)),
            "X_repeated": np.repeat(X[:1], n, axis=0), "y_repeated": np.repeat(y[:1], n)}


@st.composite
def train_cases(draw: st.DrawFn) -> Case:
    c = draw(st.integers(2, 4))
    d = draw(st.integers(3, 5))
    n = draw(st.integers(c, min(8, d * (c - 1))))
    batch = draw(st.integers(1, n))
    steps = draw(st.integers(1, 3))
    lr = draw(st.sampled_from([1e-2, 0.1, 0.5]))
    reg = draw(st.sampled_from([0.0, 0.1]))
    seed = draw(st.integers(0, 2**32 - 1))
    for k in range(64):
        case = _build(np.random.default_rng(seed + k), n, d, c, batch, steps, lr, reg)
        if _independent(case):
            return case
    reject()


def train_notebook() -> list[NamedCase]:
    rng = np.random.default_rng(231)
    for _ in range(64):
        case = _build(rng, 24, 10, 4, 6, 6, 1e-1, 2.5e-2)
        if _independent(case):
            break
    return [NamedCase("24 examples of 10 features and 4 classes, batches of 6, six one-iteration calls, "
                      "learning rate 0.1, reg 0.025 (the notebook trains on 49000 CIFAR-10 images in batches "
                      "of 200)", case)]


def train_program(case: Case) -> Program:
    """Seed; a classifier at W0; ``steps`` one-iteration calls, W kept after each; then a second classifier
    trained ``repeats`` iterations on the first example repeated N times."""
    cls = Func(CLASSIFIER_MODULE, "LinearClassifier")
    hyper: dict[str, Expr] = {"learning_rate": Input("learning_rate"), "reg": Input("reg"),
                              "batch_size": Input("batch_size"), "verbose": Const(False)}
    steps: list[Call] = [call("seed", SUPPORT_MODULE, "seed_numpy", Input("seed")),
                         call("clf", SUPPORT_MODULE, "linear_classifier", cls, Input("W0"))]
    outputs: dict[str, Expr] = {}
    for t in range(1, case["steps"] + 1):
        steps.append(method(f"train_{t}", Result("clf"), "train", Input("X"), Input("y"),
                            num_iters=Const(1), **hyper))
        steps.append(call(f"W_{t}", SUPPORT_MODULE, "snapshot", Attr(Result("clf"), "W")))
        steps.append(call(f"history_{t}", SUPPORT_MODULE, "snapshot", Result(f"train_{t}")))
        outputs.update({f"W_{t}": Result(f"W_{t}"), f"history_{t}": Result(f"history_{t}")})
    steps.append(call("repeated", SUPPORT_MODULE, "linear_classifier", cls, Input("W0")))
    steps.append(method("train_repeated", Result("repeated"), "train", Input("X_repeated"), Input("y_repeated"),
                        num_iters=Input("repeats"), **hyper))
    outputs.update({"W_repeated": Attr(Result("repeated"), "W"), "history_repeated": Result("train_repeated")})
    return Program(steps=tuple(steps), outputs=outputs)


def train_expected(case: Case) -> dict[str, Any]:
    """The replay on the repeated data set (every batch the same) and, for the reference tests, nothing else:
    the single steps are judged by recovery, not against one draw."""
    X, y = case["X_repeated"], case["y_repeated"]
    W = np.array(case["W0"], dtype=np.float64)
    history = []
    for _ in range(case["repeats"]):
        loss, grad = R.softmax_loss_vectorized(W, X, y, case["reg"])
        history.append(loss)
        W = W - case["learning_rate"] * grad
    return {"W_repeated": W, "history_repeated": np.array(history)}


# ---------------------------------------------------------------- judging the steps
def _array(value: Any) -> np.ndarray | None:
    """A numeric array of ``value`` (an array, a number, or a list of numbers such as a loss history), or None."""
    got = as_numeric(value)
    if got is None and isinstance(value, (list, tuple)):
        try:
            got = np.asarray([float(v) for v in value], dtype=np.float64)
        except (TypeError, ValueError):
            return None
    return None if got is None else got.astype(np.float64)


def recover_counts(case: Case, W_prev: np.ndarray, W_next: Any, *, lr: float | None = None,
                   sign: float = 1.0) -> np.ndarray | None:
    """How often each example was in the batch of the step W_prev -> W_next, or None when no batch of
    batch_size examples (with their own labels) explains it. ``lr`` and ``sign`` replace the case's learning
    rate and the step's direction (bug models)."""
    got = _array(W_next)
    if got is None or got.shape != np.shape(W_prev):
        return None
    rate = case["learning_rate"] if lr is None else lr
    batch = int(case["batch_size"])
    mean_gradient = sign * (W_prev - got) / rate - 2.0 * case["reg"] * W_prev
    _, grads = _per_example(case, W_prev)
    target = batch * mean_gradient.ravel()
    counts, *_ = np.linalg.lstsq(grads.T, target, rcond=None)
    residual = float(np.linalg.norm(grads.T @ counts - target))
    rounded = np.round(counts)
    if (not np.all(np.isfinite(counts)) or residual > 1e-8 + RESIDUAL_RTOL * float(np.linalg.norm(target))
            or np.max(np.abs(counts - rounded)) > COUNT_TOL or np.any(rounded < 0) or rounded.sum() != batch):
        return None
    return np.asarray(rounded, dtype=np.float64)


def _previous(case: Case, actual: Outputs, t: int) -> np.ndarray | None:
    return np.asarray(case["W0"], dtype=np.float64) if t == 1 else _array(actual.get(f"W_{t - 1}"))


def step_counts(case: Case, actual: Outputs) -> list[np.ndarray | None]:
    """The recovered counts of each one-iteration call (None where the step is no SGD step on a batch)."""
    found: list[np.ndarray | None] = []
    for t in range(1, case["steps"] + 1):
        previous = _previous(case, actual, t)
        found.append(None if previous is None else recover_counts(case, previous, actual.get(f"W_{t}")))
    return found


def judge_steps(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    for t, counts in enumerate(step_counts(case, actual), start=1):
        if counts is None:
            got = _array(actual.get(f"W_{t}"))
            if got is None or got.shape != np.shape(case["W0"]):
                shape = "None" if got is None else str(got.shape)
                return Verdict(False, f"after train(num_iters=1) call {t}, W is {shape}, expected an array of "
                                      f"shape {np.shape(case['W0'])}")
            return Verdict(False, f"train(num_iters=1) call {t} changed W by something that is not -learning_rate "
                                  f"times the loss gradient on any batch of {case['batch_size']} examples of X "
                                  "taken with their own labels")
    return Verdict(True)


def _batch_loss(case: Case, W: np.ndarray, counts: np.ndarray) -> float:
    losses, _ = _per_example(case, W)
    return float(counts @ losses / case["batch_size"] + case["reg"] * np.sum(W * W))


def judge_history(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    """One loss per one-iteration call: that batch's loss where the step tells the batch; any finite number where
    it does not (the step check charges a wrong step)."""
    for t, counts in enumerate(step_counts(case, actual), start=1):
        history = _array(actual.get(f"history_{t}"))
        if history is None or history.size != 1 or not np.all(np.isfinite(history)):
            return Verdict(False, f"train(num_iters=1) call {t} returned {actual.get(f'history_{t}')!r:.60}, "
                                  "expected a list of one loss")
        previous = _previous(case, actual, t)
        if counts is not None and previous is not None:
            want = _batch_loss(case, previous, counts)
            if not np.isclose(float(history.ravel()[0]), want, rtol=1e-7, atol=1e-9):
                return Verdict(False, f"train(num_iters=1) call {t} recorded the loss {float(history.ravel()[0]):.6g}; "
                                      f"the batch its step used has loss {want:.6g}")
    return Verdict(True)


def judge_repeated(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:


    history = _array(actual.get("history_repeated"))
    if history is None or history.shape != (case["repeats"],):
        return Verdict(False, f"train(num_iters={case['repeats']}) returned {actual.get('history_repeated')!r:.60}, "
                              f"expected a list of {case['repeats']} losses")
    verdict = compare_arrays("W", actual.get("W_repeated"), expected["W_repeated"], check.atol, check.rtol)
    if not verdict.passed:
        return Verdict(False, f"after train(num_iters={case['repeats']}) on one example repeated: {verdict.message}")
    return compare_arrays("loss_history", history, expected["history_repeated"], check.atol, check.rtol)


def false_alarm(case: Case) -> float:
    """Probability that a correct sampler draws only from the first batch_size rows in every step."""
    return float((case["batch_size"] / len(case["y"])) ** (case["steps"] * case["batch_size"]))


def judge_batches(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    counts = [c for c in step_counts(case, actual) if c is not None]
    if false_alarm(case) > FALSE_ALARM or len(counts) < case["steps"]:
        return Verdict(True)
    if all(float(c[case["batch_size"]:].sum()) == 0 for c in counts):
        return Verdict(False, f"every minibatch of every step came from the first {case['batch_size']} rows of X: "
                              "sample batch_size indices at random (np.random.choice(num_train, batch_size))")
    return Verdict(True)


def _step_variant(**change: float) -> Callable[[Sequence[CaseRun]], bool]:
    """Some failing step is explained with the changed learning rate or direction, and none is explained
    right."""

    def applies(runs: Sequence[CaseRun]) -> bool:
        seen = False
        for run in runs:
            if not run.failed_on("step"):
                continue
            for t in range(1, run.case["steps"] + 1):
                previous = _previous(run.case, run.actual, t)
                if previous is None:
                    return False
                if recover_counts(run.case, previous, run.actual.get(f"W_{t}")) is not None:
                    continue
                if recover_counts(run.case, previous, run.actual.get(f"W_{t}"), **change) is None:
                    return False
                seen = True
        return seen

    return applies


def _step_bug(**change: float) -> Callable[[Case], dict[str, Any]]:
    """A one-iteration step on the first batch_size examples, with the change put in."""

    def bug(case: Case) -> dict[str, Any]:
        sign = change.get("sign", 1.0)
        rate = change["lr"] if "lr" in change else float(case["learning_rate"])
        W = np.asarray(case["W0"], dtype=np.float64)
        found: dict[str, Any] = {}
        b = case["batch_size"]
        for t in range(1, case["steps"] + 1):
            _, grad = R.softmax_loss_vectorized(W, case["X"][:b], case["y"][:b], case["reg"])
            W = W - sign * rate * grad
            found[f"W_{t}"] = W
        return found

    return bug


TRAIN_DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis("step up the gradient", "W moves up the gradient: gradient descent subtracts, W -= learning_rate * "
              "grad.", _step_variant(sign=-1.0), reads=("W_1",), bug=_step_bug(sign=-1.0)),
    Diagnosis("learning rate missing", "W moves by the whole gradient: multiply it by learning_rate, W -= "
              "learning_rate * grad.", _step_variant(lr=1.0), reads=("W_1",), bug=_step_bug(lr=1.0)),
)


# ---------------------------------------------------------------- predict
def predict() -> Spec:
    return Spec(
        name="LinearClassifier.predict",
        module=CLASSIFIER_MODULE,
        api="class",
        convention="cs231n A1: predict(X) -> the class of highest score X @ W for each row",
        domain=lambda case: case["W"].shape[0] == case["X"].shape[1],
        cases=predict_cases,
        reaches=(Reach("one example", lambda c: len(c["X"]) == 1),
                 Reach("several classes", lambda c: c["W"].shape[1] >= 4)),
        notebook=predict_notebook,
        program=predict_program,
        expected=predict_expected,
        verified_by="np.argmax of X @ W (tests/reference/test_cs231n_a1.py)",
        checks=(Check("y_pred", tol=EXACT, description="the class of highest score for each row of X"),),
        diagnoses=(variant_diagnosis("lowest score", "The prediction is the class of LOWEST score: use np.argmax.",
                                     lambda case: {"y_pred": np.argmin(case["X"] @ case["W"], axis=1)},
                                     ("y_pred",)),),
        read_only=("X",),
    )


def predict_expected(case: Case) -> dict[str, Any]:
    classifier = R.Softmax()
    classifier.W = case["W"]
    return {"y_pred": classifier.predict(case["X"])}


def _predict_case(rng: np.random.Generator, n: int, d: int, c: int) -> Case:
    return {"W": rng.standard_normal((d, c)), "X": rng.standard_normal((n, d)), "seed": 0}


@st.composite
def predict_cases(draw: st.DrawFn) -> Case:
    n, d, c = draw(st.integers(1, 8)), draw(st.integers(1, 6)), draw(st.integers(2, 6))
    return _predict_case(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), n, d, c)


def predict_notebook() -> list[NamedCase]:
    return [NamedCase("100 examples of 3073 features (pixels and a bias), 10 classes",
                      _predict_case(np.random.default_rng(231), 100, 3073, 10))]


def predict_program(case: Case) -> Program:
    cls = Func(CLASSIFIER_MODULE, "LinearClassifier")
    steps = (call("seed", SUPPORT_MODULE, "seed_numpy", Input("seed")),
             call("clf", SUPPORT_MODULE, "linear_classifier", cls, Input("W")),
             method("y_pred", Result("clf"), "predict", Input("X")))
    return Program(steps=steps, outputs={"y_pred": Result("y_pred")})


FACTORIES: dict[str, Callable[..., Spec]] = {"LinearClassifier.train": train, "LinearClassifier.predict": predict}
