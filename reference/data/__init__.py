"""Data sets for the reference: the MNIST loader (IDX files, the book's ``load_mnist`` conventions)."""

from __future__ import annotations

from reference.data.idx import IDXFormatError, read_idx, read_idx_images, read_idx_labels
from reference.data.mnist import (
    DEFAULT_MIRRORS,
    MNIST_FILES,
    MNIST_MD5,
    MNISTChecksumError,
    MNISTDownloadError,
    download_mnist,
    load_mnist,
)

__all__ = [
    "DEFAULT_MIRRORS",
    "IDXFormatError",
    "MNISTChecksumError",
    "MNISTDownloadError",
    "MNIST_FILES",
    "MNIST_MD5",
    "download_mnist",
    "load_mnist",
    "read_idx",
    "read_idx_images",
    "read_idx_labels",
]
