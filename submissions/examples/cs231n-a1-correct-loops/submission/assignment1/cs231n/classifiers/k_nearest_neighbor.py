from builtins import range
from builtins import object
import numpy as np
from past.builtins import xrange


class KNearestNeighbor(object):
    """ a kNN classifier with L2 distance """

    def __init__(self):
        pass

    def train(self, X, y):
        """Remember the training data (kNN has nothing else to learn)."""
        self.X_train = X
        self.y_train = y

    def predict(self, X, k=1, num_loops=0):
        if num_loops == 0:
            dists = self.compute_distances_no_loops(X)
        elif num_loops == 1:
            dists = self.compute_distances_one_loop(X)
        elif num_loops == 2:
            dists = self.compute_distances_two_loops(X)
        else:
            raise ValueError("Invalid value %d for num_loops" % num_loops)
        return self.predict_labels(dists, k=k)

    def compute_distances_two_loops(self, X):
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train))
        for i in range(num_test):
            for j in range(num_train):
                # every pixel's difference, squared and summed, then the square root
                diff = X[i] - self.X_train[j]
                dists[i, j] = np.sqrt(np.sum(diff * diff))
        return dists

    def compute_distances_one_loop(self, X):
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train))
        for i in range(num_test):
            # broadcast one test image against all the training images
            dists[i, :] = np.sqrt(np.sum((self.X_train - X[i, :]) ** 2, axis=1))
        return dists

    def compute_distances_no_loops(self, X):
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train))
        # (x - t)^2 = x^2 + t^2 - 2 x.t
        test_sq = np.sum(X ** 2, axis=1).reshape(num_test, 1)
        train_sq = np.sum(self.X_train ** 2, axis=1).reshape(1, num_train)
        cross = X.dot(self.X_train.T)
        dists = np.sqrt(test_sq + train_sq - 2 * cross)
        return dists

    def predict_labels(self, dists, k=1):
        num_test = dists.shape[0]
        y_pred = np.zeros(num_test)
        for i in range(num_test):
            closest_y = []
            nearest = np.argsort(dists[i])[:k]
            closest_y = self.y_train[nearest]
            # bincount + argmax: on a tie argmax returns the first, i.e. the smaller label
            votes = np.bincount(closest_y)
            y_pred[i] = np.argmax(votes)
        return y_pred
