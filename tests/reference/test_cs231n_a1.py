"""The assignment-1 reference (reference/cs231n/linear.py, knn.py) against facts the notebooks state and the
specs rely on: the softmax loss of a tiny W is about -log(0.1), the SVM loss of a tiny W about C - 1; the two L2
conventions; hand-worked votes; distances exact for integer pixels whichever way they are computed; the SVM
cases' push off the hinge moves one score only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from graders.specs.cs231n_a1 import knn as knn_specs
from graders.specs.cs231n_a1 import losses as loss_specs
from graders.specs.cs231n_a1.common import pixels, preprocessed
from reference.cs231n import linear as R
from reference.cs231n.knn import KNearestNeighbor


def tiny_weights_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = preprocessed(pixels(rng, 200, 48))
    return 1e-4 * rng.standard_normal((X.shape[1], 10)), X, rng.integers(0, 10, size=200)


def test_tiny_weights_give_the_notebooks_sanity_values() -> None:
    W, X, y = tiny_weights_case()
    assert R.softmax_loss_naive(W, X, y, 0.0)[0] == pytest.approx(-np.log(0.1), abs=0.05)
    assert R.svm_loss_naive(W, X, y, 0.0)[0] == pytest.approx(9.0, abs=0.2)


@pytest.mark.parametrize("loss", [R.svm_loss_vectorized, R.softmax_loss_vectorized])
def test_the_two_l2_conventions(loss: Callable[..., tuple[float, np.ndarray]]) -> None:
    W, X, y = tiny_weights_case(1)
    reg = 3.0
    data_loss, data_grad = loss(W, X, y, 0.0)
    full_loss, full_grad = loss(W, X, y, reg)
    half_loss, half_grad = loss(W, X, y, reg, R.L2_2016)
    np.testing.assert_allclose(full_loss - data_loss, reg * np.sum(W * W), rtol=1e-9)
    np.testing.assert_allclose(half_loss - data_loss, 0.5 * reg * np.sum(W * W), rtol=1e-9)
    np.testing.assert_allclose(full_grad - data_grad, 2 * reg * W, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(half_grad - data_grad, reg * W, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("labels,k,answer", knn_specs.WRITTEN_VOTES)
def test_hand_worked_votes(labels: list[int], k: int, answer: int) -> None:
    knn = KNearestNeighbor()
    knn.train(np.zeros((len(labels), 1)), np.array(labels))
    dists = np.arange(1.0, len(labels) + 1)[None, :]
    assert knn.predict_labels(dists, k=k).tolist() == [answer]


def test_integer_pixels_make_every_distance_formula_exact() -> None:
    rng = np.random.default_rng(5)
    train, test = pixels(rng, 40, 3072), pixels(rng, 7, 3072)
    test[3] = train[11]
    knn = KNearestNeighbor()
    knn.train(train, np.zeros(40, dtype=np.int64))
    exact = knn.compute_distances_two_loops(test)
    expanded = np.sqrt(np.sum(test**2, axis=1)[:, None] + np.sum(train**2, axis=1)[None, :] - 2 * test @ train.T)
    assert np.array_equal(exact, expanded)
    assert exact[3, 11] == 0.0


def test_push_off_hinge_moves_only_the_near_margins() -> None:
    rng = np.random.default_rng(7)
    W, X = rng.standard_normal((8, 5)), rng.standard_normal((30, 8))
    y = rng.integers(0, 5, size=30)
    scores = X @ W
    gap = 0.3  # wide, so that this seed has margins to move
    moved = loss_specs.push_off_hinge(W, X, y, gap) @ W
    rows = np.arange(30)
    margins = scores - scores[rows, y][:, None] + 1
    near = np.abs(margins) < gap
    near[rows, y] = False
    assert near.any(), "the seed must put some margin near the kink"
    np.testing.assert_allclose(moved[~near], scores[~near], atol=1e-12)
    moved_margins = moved - moved[rows, y][:, None] + 1
    assert np.all(np.abs(moved_margins[near]) >= gap)


def test_linear_classifier_predicts_the_highest_score() -> None:
    clf = R.Softmax(rng=np.random.default_rng(0))
    clf.W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    assert clf.predict(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 3.0]])).tolist() == [2, 1, 1]
