import numpy as np
from collections import Counter


class KNearestNeighbor:
    """kNN with L2 distances, written with NumPy helpers."""

    def train(self, X, y):
        self.X_train = np.asarray(X)
        self.y_train = np.asarray(y)

    def compute_distances_two_loops(self, X):
        dists = np.empty((len(X), len(self.X_train)))
        for i, x in enumerate(X):
            for j, t in enumerate(self.X_train):
                dists[i, j] = np.linalg.norm(x - t)
        return dists

    def compute_distances_one_loop(self, X):
        rows = []
        for x in X:
            rows.append(np.linalg.norm(self.X_train - x, axis=1))
        return np.vstack(rows) if rows else np.zeros((0, len(self.X_train)))

    def compute_distances_no_loops(self, X):
        # |x|^2 - 2 x.t + |t|^2 with einsum; clip rounding below zero before the root
        squared = (np.einsum("ij,ij->i", X, X)[:, np.newaxis]
                   - 2.0 * X @ self.X_train.T
                   + np.einsum("ij,ij->i", self.X_train, self.X_train)[np.newaxis, :])
        return np.sqrt(np.maximum(squared, 0.0))

    def predict_labels(self, dists, k=1):
        nearest = np.argpartition(dists, k - 1, axis=1)[:, :k] if k < dists.shape[1] else np.argsort(dists, axis=1)
        predictions = []
        for row in nearest:
            counts = Counter(self.y_train[row].tolist())
            best = max(counts.values())
            predictions.append(min(label for label, count in counts.items() if count == best))
        return np.array(predictions)
