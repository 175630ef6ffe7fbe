"""Spec of the book's ``Trainer`` (``common/trainer.py``, used from chapter 6 on): the epoch loop, judged on what
is deterministic whatever batches it draws.

The network handed to the student's Trainer is the grader's own (``nngrade_support.SoftmaxNet``: a one-layer
softmax classifier with the book's ``params``, ``gradient``, ``loss`` and ``accuracy``), so that the loop is
judged on its own and a bug in the student's networks costs nothing here; the optimizer is the student's (the
Trainer builds it by name from common/optimizer.py), limited to ``'sgd'`` and ``'Momentum'``, whose accepted
forms all give the same parameters (the optimizer specs grade the others).

Why the training set is one example repeated: the book draws each mini-batch with ``np.random.choice(train_size,
batch_size)`` (with replacement), a student may shuffle per epoch or use a Generator of their own, and all are
right; with identical rows every batch holds the same data, so after each step the parameters, the batch's loss
and the accuracies are the same whichever indices were drawn. ``train_size`` is a multiple of
``mini_batch_size``, so ``iter_per_epoch = max(train_size / mini_batch_size, 1)`` is a whole number and every
reading of "an epoch begins every iter_per_epoch steps" agrees; the test set is varied (it is never sampled).

Checks, on two fresh trainers (so that a ``train`` that continues from ``current_iter`` and one that runs
``max_iter`` steps anyway are both right): ``train_step`` once (the parameters after one update with the
gradient of a batch, and the one loss recorded), ``train()`` (the parameters after ``max_iter = int(epochs *
iter_per_epoch)`` steps, ``train_loss_list`` with one loss per step, and ``train_acc_list``/``test_acc_list``
with one entry per epoch begun, on the first ``evaluate_sample_num_per_epoch`` examples). The book records each
batch's loss after its update; the loss before it is accepted with a warning (a curve of training losses either
way). ``verbose=False``: printing is not graded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, CaseRun, Check, NamedCase, Outputs, Reach, Spec, Verdict
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.programs import SUPPORT_MODULE
from graders.specs.kit.resources import SoftmaxNet
from graders.specs.kit.rules import compare_arrays
from graders.specs.kit.tolerances import COUNT_RATIO, OPTIMIZER_STEP
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Attr, Call, Const, Expr, Input, Program, Result, call, method
from reference.trainer import Trainer

MODULE = "trainer"
CLASS = "Trainer"
#: The Trainer's arguments after the network, in the book's order (passed positionally).
ARGS = ("x_train", "t_train", "x_test", "t_test", "epochs", "mini_batch_size", "optimizer", "optimizer_param",
        "evaluate_sample_num_per_epoch")
OPTIMIZERS = {"sgd": {"lr": 0.5}, "Momentum": {"lr": 0.3, "momentum": 0.9}}
LISTS = ("train_loss_list", "train_acc_list", "test_acc_list")


def trainer_spec() -> Spec:
    return Spec(
        name=CLASS,
        module=MODULE,
        api="class",
        convention="book: Trainer(network, x_train, t_train, x_test, t_test, epochs, mini_batch_size, optimizer, "
                   "optimizer_param, evaluate_sample_num_per_epoch, verbose); train_step, train; train_loss_list, "
                   "train_acc_list, test_acc_list; judged with the grader's own network on a training set of one "
                   "example repeated",
        builds_on=("SGD", "Momentum"),
        cases=cases,
        reaches=(
            Reach("several steps per epoch over several epochs", lambda case: case["epochs"] > 1
                  and len(case["t_train"]) > case["mini_batch_size"]),
            Reach("momentum", lambda case: case["optimizer"] == "Momentum"),
            Reach("a sample of the examples evaluated", lambda case: case["evaluate_sample_num_per_epoch"] is not None),
        ),
        notebook=notebook,
        program=program,
        expected=expected,
        torch_expected=torch_trainer,
        checks=(
            Check("train_step", outputs=("step_W", "step_b", "step_loss"), tol=OPTIMIZER_STEP,
                  compare=judge_with_losses("step_"),
                  description="one train_step(): one optimizer update with the gradient of a mini-batch, its loss "
                              "appended to train_loss_list"),
            Check("train", outputs=("W", "b", "train_loss_list"), tol=OPTIMIZER_STEP, points=2.0,
                  compare=judge_with_losses(""),
                  description="train(): max_iter = int(epochs * max(train_size / mini_batch_size, 1)) steps, one "
                              "loss per step"),
            Check("accuracy_lists", outputs=("train_acc_list", "test_acc_list"), tol=COUNT_RATIO,
                  compare=judge_lists,
                  description="one train and one test accuracy per epoch begun, on the first "
                              "evaluate_sample_num_per_epoch examples"),
        ),
        diagnoses=DIAGNOSES,
        read_only=("x_train", "t_train", "x_test", "t_test"),
    )


FACTORIES: dict[str, Callable[..., Spec]] = {CLASS: trainer_spec}


# ---------------------------------------------------------------- cases
def _build(rng: np.random.Generator, *, features: int, classes: int, repeats: int, n_test: int,
           **options: Any) -> Case:
    row, label = rng.standard_normal(features), int(rng.integers(0, classes))
    n = repeats * options["mini_batch_size"]
    return {
        "W": 0.5 * rng.standard_normal((features, classes)), "b": 0.1 * rng.standard_normal(classes),
        "x_train": np.tile(row, (n, 1)), "t_train": np.full(n, label),
        "x_test": rng.standard_normal((n_test, features)), "t_test": rng.integers(0, classes, size=n_test),
        "optimizer_param": dict(OPTIMIZERS[options["optimizer"]]), **options,
    }


@st.composite
def cases(draw: st.DrawFn) -> Case:
    options: dict[str, Any] = {
        "features": draw(st.integers(2, 4)), "classes": draw(st.integers(2, 3)), "repeats": draw(st.integers(1, 3)),
        "n_test": draw(st.integers(3, 6)), "epochs": draw(st.integers(1, 3)),
        "mini_batch_size": draw(st.integers(1, 3)), "optimizer": draw(st.sampled_from(sorted(OPTIMIZERS))),
        "evaluate_sample_num_per_epoch": draw(st.sampled_from([None, 2])),
    }
    return draw(S.seeded_until(lambda rng: _build(rng, **options), lambda case: True, tries=1))


def notebook() -> list[NamedCase]:
    """Chapter 6's optimizer comparison in miniature: 2 epochs of 3 mini-batches of 2, with Momentum."""
    case = _build(np.random.default_rng(6), features=4, classes=3, repeats=3, n_test=5, epochs=2, mini_batch_size=2,
                  optimizer="Momentum", evaluate_sample_num_per_epoch=None)
    return [NamedCase("2 epochs of 3 mini-batches of 2 with Momentum (seed 6)", case)]


# ---------------------------------------------------------------- program, reference, torch
def _trainer(id_: str, net: str) -> list[Call]:
    return [call(net, SUPPORT_MODULE, "SoftmaxNet", Input("W"), Input("b")),
            call(id_, MODULE, CLASS, Result(net), *(Input(a) for a in ARGS), Const(False))]


def _snapshot(id_: str, of: Expr, *keys: str) -> Call:
    return call(id_, SUPPORT_MODULE, "snapshot", of, *(Const(k) for k in keys))


def program(case: Case) -> Program:
    steps: list[Call] = [call("seed", SUPPORT_MODULE, "seed_numpy", Const(0))]
    steps += _trainer("stepper", "step_net")
    steps.append(method("step", Result("stepper"), "train_step"))
    steps += [_snapshot(f"step_{k}", Attr(Result("step_net"), "params"), k) for k in ("W", "b")]
    steps.append(_snapshot("step_loss", Attr(Result("stepper"), "train_loss_list")))
    steps += _trainer("trainer", "net")
    steps.append(method("train", Result("trainer"), "train"))
    steps += [_snapshot(k, Attr(Result("net"), "params"), k) for k in ("W", "b")]
    steps += [_snapshot(name, Attr(Result("trainer"), name)) for name in LISTS]
    kept = ("step_W", "step_b", "step_loss", "W", "b", *LISTS)
    return Program(steps=tuple(steps), outputs={k: Result(k) for k in kept})


def _run(case: Case, *, steps: int | None = None, **changes: Any) -> tuple[SoftmaxNet, Trainer]:
    values = {**case, **changes}
    net = SoftmaxNet(values["W"], values["b"])
    x_train, t_train, x_test, t_test, epochs, batch, optimizer, param, sample = (values[a] for a in ARGS)
    trainer = Trainer(net, x_train, t_train, x_test, t_test, epochs, batch, optimizer, param, sample, verbose=False,
                      rng=np.random.default_rng(0))
    if steps is None:
        trainer.train()
    else:
        for _ in range(steps):
            trainer.train_step()
    return net, trainer


def _losses_before(case: Case, after: list[float]) -> list[float]:
    """Each step's batch loss before its update: the previous step's loss after it (every batch is the same)."""
    first = SoftmaxNet(case["W"], case["b"]).loss(case["x_train"][:1], case["t_train"][:1])
    return [first, *after[:-1]]


def expected(case: Case) -> dict[str, Any]:
    stepped, step_trainer = _run(case, steps=1)
    net, trainer = _run(case)
    return {
        "step_W": stepped.params["W"], "step_b": stepped.params["b"],
        "step_loss": np.array(step_trainer.train_loss_list),
        "step_loss_before": np.array(_losses_before(case, step_trainer.train_loss_list)),
        "W": net.params["W"], "b": net.params["b"],
        **{name: np.array(getattr(trainer, name)) for name in LISTS},
        "train_loss_list_before": np.array(_losses_before(case, trainer.train_loss_list)),
    }


def torch_trainer(case: Case) -> dict[str, Any]:
    """The same loop with torch.optim (SGD, or SGD with momentum: its buffer b = m * b + g and step lr * b give
    the book's parameters for a constant lr) on a torch softmax classifier, every batch the repeated row."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    W, b = torch.tensor(case["W"], requires_grad=True), torch.tensor(case["b"], requires_grad=True)
    param = case["optimizer_param"]
    optimizer = torch.optim.SGD([W, b], lr=param["lr"], momentum=param.get("momentum", 0.0))
    x = torch.tensor(case["x_train"][: case["mini_batch_size"]])
    t = torch.tensor(case["t_train"][: case["mini_batch_size"]])
    per_epoch = max(len(case["t_train"]) / case["mini_batch_size"], 1)
    n = case["evaluate_sample_num_per_epoch"]
    result: dict[str, Any] = {name: [] for name in LISTS}

    def accuracy(inputs: np.ndarray, labels: np.ndarray) -> float:
        with torch.no_grad():
            scores = torch.tensor(inputs) @ W + b
        return float((scores.argmax(dim=1) == torch.tensor(labels)).double().mean().item())

    for i in range(int(case["epochs"] * per_epoch)):
        optimizer.zero_grad()
        F.cross_entropy(x @ W + b, t).backward()
        optimizer.step()
        with torch.no_grad():
            result["train_loss_list"].append(float(F.cross_entropy(x @ W + b, t).item()))
        if i % per_epoch == 0:
            result["train_acc_list"].append(accuracy(case["x_train"][:n], case["t_train"][:n]))
            result["test_acc_list"].append(accuracy(case["x_test"][:n], case["t_test"][:n]))
    return {"W": W.detach().numpy(), "b": b.detach().numpy(), **{k: np.array(v) for k, v in result.items()}}


# ---------------------------------------------------------------- rules
def _as_list(actual: Outputs, name: str) -> np.ndarray | Verdict:
    value = actual.get(name)
    if value is None:
        return Verdict(False, f"{name} was not produced (the book's Trainer keeps it as an attribute)")
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return Verdict(False, f"{name}: expected a list of numbers, got {type(value).__name__}")


def _compare_list(name: str, actual: Outputs, want: np.ndarray, tol: Check) -> Verdict:
    got = _as_list(actual, name)
    if isinstance(got, Verdict):
        return got
    if got.shape != want.shape:
        return Verdict(False, f"{name} has {got.size} entries, expected {want.size}")
    return compare_arrays(name, got, want, tol.atol, tol.rtol)


def judge_with_losses(prefix: str) -> Callable[[Case, Outputs, Outputs, Check], Verdict]:
    """The parameters ``<prefix>W``, ``<prefix>b``, then the loss list: the losses after each update (the book's),
    or before each (accepted with a warning)."""
    losses = "step_loss" if prefix else "train_loss_list"

    def rule(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
        for key in (f"{prefix}W", f"{prefix}b"):
            verdict = compare_arrays(key, actual.get(key), expected[key], check.atol, check.rtol)
            if not verdict.passed:
                return Verdict(False, f"the network's params[{key[len(prefix):]!r}] after "
                                      f"{'one train_step()' if prefix else 'train()'}: {verdict.message}")
        verdict = _compare_list(losses, actual, np.asarray(expected[losses]), check)
        if verdict.passed:
            return verdict
        if _compare_list(losses, actual, np.asarray(expected[losses + "_before"]), check).passed:
            return Verdict(True, warning=f"{losses} holds each batch's loss before its update; the book's Trainer "
                                         f"records it after (network.loss once the optimizer has stepped)")
        return verdict

    return rule


def judge_lists(case: Case, actual: Outputs, expected: Outputs, check: Check) -> Verdict:
    for name in ("train_acc_list", "test_acc_list"):
        verdict = _compare_list(name, actual, np.asarray(expected[name]), check)
        if not verdict.passed:
            return verdict
    return Verdict(True)


# ---------------------------------------------------------------- bugs
def _evaluated_on_everything(case: Case) -> dict[str, Any] | None:
    if case["evaluate_sample_num_per_epoch"] is None:
        return None
    _, trainer = _run(case, evaluate_sample_num_per_epoch=None)
    return {name: np.array(getattr(trainer, name)) for name in ("train_acc_list", "test_acc_list")}


def _listed(run: CaseRun, name: str) -> Any:
    """A list output as an array (the book's Trainer keeps Python lists of floats; detectors compare arrays)."""
    value = run.actual.get(name)
    try:
        return None if value is None else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _default_optimizer(case: Case) -> dict[str, Any]:
    net, _ = _run(case, optimizer_param={"lr": 0.01})
    return {"W": net.params["W"], "b": net.params["b"]}


DIAGNOSES = (
    variant_diagnosis(
        "evaluate_sample_num_per_epoch ignored",
        "The accuracies are measured on every example: with evaluate_sample_num_per_epoch = n the book measures "
        "them on the first n training and the first n test examples only (x_train[:n], x_test[:n]).",
        _evaluated_on_everything, ("train_acc_list", "test_acc_list"), ("accuracy_lists",), lookup=_listed),
    variant_diagnosis(
        "optimizer_param not passed",
        "The parameters moved as with lr = 0.01: build the optimizer with the given settings, "
        "optimizer_class(**optimizer_param).",
        _default_optimizer, ("W", "b"), ("train",)),
)
