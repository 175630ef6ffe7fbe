"""Specs of ``k_nearest_neighbor.py``'s ``KNearestNeighbor``: the three distance methods and ``predict_labels``.

Each is graded through the class as the notebook uses it: ``knn = KNearestNeighbor()``, ``knn.train(X_train,
y_train)``, then the method. The distance methods return the (num_test, num_train) Euclidean distances; the
cases hold integer pixel values 0..255 as float64, as the notebook's CIFAR-10 arrays do, so that the three
ways (two loops, one loop, and ``|x|^2 + |t|^2 - 2 x.t`` without loops) are all exact: sums of squares of
integers round nothing, and a test image equal to a training image gives exactly 0, not sqrt of a tiny
negative number.

``predict_labels(dists, k)`` votes among the labels of the k nearest training points, a tie going to the
smaller label. The k nearest must be well defined for any correct code (argsort, argpartition, sorted, ...):
in every row the k-th and (k + 1)-th smallest distances differ. The notebook cases are hand-picked votes that
tell "smaller label" apart from "larger label" and from "the nearest neighbour's label".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs import strategies as S
from graders.specs.base import Case, Check, Diagnosis, NamedCase, Reach, Spec
from graders.specs.cs231n_a1.common import KNN_MODULE, pixels
from graders.specs.kit.detectors import variant_diagnosis
from graders.specs.kit.tolerances import EXACT, PRODUCT_SUMS
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Call, Input, Program, Result, call, method
from reference.cs231n.knn import KNearestNeighbor as ReferenceKNN

DISTANCE_METHODS = ("compute_distances_two_loops", "compute_distances_one_loop", "compute_distances_no_loops")
#: Smallest gap between the k-th and (k + 1)-th nearest distances of a predict_labels case.
BOUNDARY_GAP = 1e-3


def _trained(extra: Call) -> Program:
    """``knn = KNearestNeighbor(); knn.train(X_train, y_train)``, then ``extra`` on it; fetch its result."""
    steps = (call("knn", KNN_MODULE, "KNearestNeighbor"),
             method("train", Result("knn"), "train", Input("X_train"), Input("y_train")), extra)
    return Program(steps=steps, outputs={extra.id: Result(extra.id)})


# ---------------------------------------------------------------- distances
def distance_spec(method_name: str) -> Callable[..., Spec]:
    def factory() -> Spec:
        return Spec(
            name=method_name,
            module=KNN_MODULE,
            api="class",
            convention="cs231n A1: KNearestNeighbor().train(X_train, y_train); dists (num_test, num_train) of "
                       "Euclidean distances",
            domain=_integer_pixels,
            cases=distance_cases,
            reaches=(Reach("a test image equal to a training image", _has_duplicate),
                     Reach("several test and training images", lambda c: min(len(c["X"]), len(c["X_train"])) >= 3),
                     Reach("one feature", lambda c: c["X"].shape[1] == 1)),
            notebook=distance_notebook,
            scale=distance_scale,
            program=lambda case: _trained(method("dists", Result("knn"), method_name, Input("X"))),
            expected=_distances_expected,
            torch_expected=_torch_distances,
            checks=(Check("dists", tol=PRODUCT_SUMS,
                          description="dists[i, j]: the L2 distance between test image i and training image j"),),
            diagnoses=DISTANCE_DIAGNOSES,
            read_only=("X", "X_train"),
        )

    return factory


def _integer_pixels(case: Case) -> bool:
    return all(np.array_equal(case[k], np.round(case[k])) and case[k].ndim == 2 for k in ("X", "X_train"))


def _has_duplicate(case: Case) -> bool:
    return bool(np.any(_distances_expected(case)["dists"] == 0))


def _knn_case(rng: np.random.Generator, n_test: int, n_train: int, d: int, duplicate: bool) -> Case:
    X_train = pixels(rng, n_train, d)
    X = pixels(rng, n_test, d)
    if duplicate:
        X[rng.integers(n_test)] = X_train[rng.integers(n_train)]
    return {"X_train": X_train, "y_train": rng.integers(0, 10, size=n_train).astype(np.int64), "X": X}


@st.composite
def distance_cases(draw: st.DrawFn) -> Case:
    n_test, n_train, d = draw(S.dims(1, 6)), draw(S.dims(1, 8)), draw(S.dims(1, 6))
    duplicate = draw(st.booleans())
    return _knn_case(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), n_test, n_train, d, duplicate)


def distance_notebook() -> list[NamedCase]:
    return [NamedCase("notebook: 50 training and 10 test images of 4x4x3 pixels (0..255), one test image also "
                      "in the training set (the notebook uses 5000 and 500 CIFAR-10 images)",
                      _knn_case(np.random.default_rng(231), 10, 50, 48, duplicate=True))]


def distance_scale() -> list[Case]:
    return [_knn_case(np.random.default_rng(2310), 50, 250, 3072, duplicate=True)]


def _distances_expected(case: Case) -> dict[str, Any]:
    knn = ReferenceKNN()
    knn.train(case["X_train"], case["y_train"])
    return {"dists": knn.compute_distances_two_loops(case["X"])}


def _torch_distances(case: Case) -> dict[str, Any]:
    torch = torch_one_thread()
    dists = torch.cdist(torch.tensor(case["X"]), torch.tensor(case["X_train"]),
                        compute_mode="donot_use_mm_for_euclid_dist")
    return {"dists": dists.numpy()}


def _distance_variant(how: str) -> Callable[[Case], dict[str, Any]]:
    def variant(case: Case) -> dict[str, Any]:
        X, T = case["X"], case["X_train"]
        if how == "squared":
            dists = _distances_expected(case)["dists"] ** 2
        elif how == "plus":  # |x|^2 + |t|^2 + 2 x.t: the cross term's sign flipped
            dists = np.sqrt(np.sum(X**2, axis=1)[:, None] + np.sum(T**2, axis=1)[None, :] + 2.0 * X @ T.T)
        else:  # the L1 distance
            dists = np.sum(np.abs(X[:, None, :] - T[None, :, :]), axis=2)
        return {"dists": dists}

    return variant


DISTANCE_DIAGNOSES: tuple[Diagnosis, ...] = (
    variant_diagnosis("squared distances", "The distances are squared: take the square root of the sum of squared "
                      "differences (np.sqrt).", _distance_variant("squared"), ("dists",)),
    variant_diagnosis("cross term sign", "The cross term has the wrong sign: |x - t|^2 = |x|^2 + |t|^2 - 2 x.t, "
                      "so subtract 2 * X @ X_train.T.", _distance_variant("plus"), ("dists",)),
    variant_diagnosis("L1 distance", "These are L1 distances (sums of absolute differences): the notebook asks "
                      "for the L2 distance, sqrt of the sum of squared differences.", _distance_variant("l1"),
                      ("dists",)),
)


# ---------------------------------------------------------------- predict_labels
def predict_labels() -> Spec:
    return Spec(
        name="predict_labels",
        module=KNN_MODULE,
        api="class",
        convention="cs231n A1: majority vote of the k nearest training labels, a tie to the smaller label",
        domain=_clear_boundary,
        cases=vote_cases,
        reaches=(Reach("k = 1", lambda c: c["k"] == 1), Reach("k >= 3", lambda c: c["k"] >= 3),
                 Reach("a tied vote", lambda c: _tied(c))),
        notebook=vote_notebook,
        program=lambda case: _trained(method("y_pred", Result("knn"), "predict_labels", Input("dists"),
                                             k=Input("k"))),
        expected=_votes_expected,
        verified_by="hand-picked votes in the notebook tier, whose answers are written out "
                    "(tests/reference/test_cs231n_a1.py)",
        checks=(Check("y_pred", tol=EXACT, description="the predicted label of each test image"),),
        diagnoses=VOTE_DIAGNOSES,
        read_only=("dists", "y_train"),
    )


def _sorted_rows(case: Case) -> np.ndarray:
    return np.sort(case["dists"], axis=1)


def _clear_boundary(case: Case) -> bool:
    k, rows = case["k"], _sorted_rows(case)
    if not 1 <= k <= rows.shape[1]:
        return False
    return k == rows.shape[1] or bool(np.all(rows[:, k] - rows[:, k - 1] >= BOUNDARY_GAP))


def _nearest_labels(case: Case) -> np.ndarray:
    order = np.argsort(case["dists"], axis=1, kind="stable")[:, : case["k"]]
    return np.asarray(case["y_train"])[order]


def _tied(case: Case) -> bool:
    for row in _nearest_labels(case):
        counts = np.bincount(row)
        if np.sum(counts == counts.max()) > 1:
            return True
    return False


def _vote_case(rng: np.random.Generator, n_test: int, n_train: int, classes: int, k: int) -> Case:
    dists = rng.permutation(n_test * n_train).reshape(n_test, n_train) * 0.5 + rng.uniform(0, 0.1, (n_test, n_train))
    return {"X_train": pixels(rng, n_train, 2), "y_train": rng.integers(0, classes, size=n_train).astype(np.int64),
            "dists": dists, "k": k}


@st.composite
def vote_cases(draw: st.DrawFn) -> Case:
    n_test, n_train = draw(S.dims(1, 6)), draw(S.dims(1, 10))
    k = draw(st.integers(1, n_train))
    classes = draw(st.integers(2, 4))
    return _vote_case(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), n_test, n_train, classes, k)


def _written(labels: list[int], k: int, answer: int) -> Case:
    """One test image whose training images, nearest first, carry ``labels``."""
    n = len(labels)
    return {"X_train": np.arange(2 * n, dtype=np.float64).reshape(n, 2), "y_train": np.array(labels, dtype=np.int64),
            "dists": np.arange(1, n + 1, dtype=np.float64)[None, :] * 1.5, "k": k, "answer": answer}


#: (labels nearest first, k, the right prediction): ties between a nearer larger label and a smaller one.
WRITTEN_VOTES = (
    ([3, 1, 2, 0], 2, 1),
    ([5, 5, 2, 2, 7], 4, 2),
    ([4, 0, 4, 0, 0, 9], 4, 0),
    ([2, 7, 7, 2, 1, 1], 6, 1),
    ([6, 1, 1, 6, 6], 5, 6),
)


def vote_notebook() -> list[NamedCase]:
    found = [NamedCase(f"one test image, labels {labels} nearest first, k = {k}: the vote gives {answer}",
                       _written(labels, k, answer)) for labels, k, answer in WRITTEN_VOTES]
    rng = np.random.default_rng(231)
    case = _vote_case(rng, 20, 50, 10, 5)
    found.append(NamedCase("notebook: 20 test images, 50 training images of 10 classes, k = 5", case))
    return found


def _votes(case: Case, pick: Callable[[np.ndarray], int], k: int | None = None) -> np.ndarray:
    order = np.argsort(case["dists"], axis=1, kind="stable")[:, : (case["k"] if k is None else k)]
    labels = np.asarray(case["y_train"])[order]
    return np.array([pick(row) for row in labels], dtype=np.int64)


def _smallest(row: np.ndarray) -> int:
    return int(np.argmax(np.bincount(row)))


def _votes_expected(case: Case) -> dict[str, Any]:
    knn = ReferenceKNN()
    knn.train(case["X_train"], case["y_train"])
    return {"y_pred": knn.predict_labels(case["dists"], k=case["k"])}


def _largest(row: np.ndarray) -> int:
    counts = np.bincount(row)
    return int(len(counts) - 1 - np.argmax(counts[::-1]))


def _first_seen(row: np.ndarray) -> int:
    """The tied label that comes first among the nearest (collections.Counter.most_common's order)."""
    counts = {int(v): int(np.sum(row == v)) for v in row}
    best = max(counts.values())
    return next(int(v) for v in row if counts[int(v)] == best)


VOTE_DIAGNOSES: tuple[Diagnosis, ...] = (
    variant_diagnosis("ties to the larger label", "A tied vote goes to the larger label: the hand-out breaks ties "
                      "by choosing the smaller one (np.argmax(np.bincount(closest_y)) does).",
                      lambda case: {"y_pred": _votes(case, _largest)}, ("y_pred",)),
    variant_diagnosis("ties to the nearest label", "A tied vote goes to the label met first among the nearest "
                      "neighbours (Counter.most_common's order): the hand-out breaks ties by choosing the smaller "
                      "label.", lambda case: {"y_pred": _votes(case, _first_seen)}, ("y_pred",)),
    variant_diagnosis("k ignored", "The prediction is the nearest neighbour's label whatever k is: vote among the "
                      "k nearest.", lambda case: {"y_pred": _votes(case, _smallest, k=1)}, ("y_pred",)),
    variant_diagnosis("farthest neighbours", "The vote uses the k farthest training images: sort the distances "
                      "in increasing order (np.argsort) and take the first k.",
                      lambda case: {"y_pred": _votes({**case, "dists": -case["dists"]}, _smallest)}, ("y_pred",)),
)


FACTORIES: dict[str, Callable[..., Spec]] = {
    **{name: distance_spec(name) for name in DISTANCE_METHODS},
    "predict_labels": predict_labels,
}
