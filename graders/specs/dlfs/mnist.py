"""Spec of the book's ``dataset/mnist.py``: ``load_mnist``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from graders.specs.base import Case, Check, NamedCase, Spec, Tol, Verdict
from graders.specs.dlfs.common import one_hot
from graders.specs.kit.resources import mnist_dir
from graders.specs.kit.tolerances import EXACT, MNIST_PIXELS
from graders.specs.program import Attr, Expr, Input, Item, Program, Result, Slice, call
from reference import dlfs as D

OPTIONS = ("normalize", "flatten", "one_hot_label")
SAMPLE = 64
SPLITS = (("train", 0), ("test", 1))
PARTS = (("x", 0), ("t", 1))


def load_mnist_spec() -> Spec:
    images = "first and last 64 images: pixel / 255 (float) when normalize, else the stored uint8 values"
    labels = "first and last 64 labels: one-hot rows when one_hot_label, else digits"
    return Spec(
        name="load_mnist",
        module="mnist",
        api="function",
        domain=lambda case: set(case) == set(OPTIONS) and all(isinstance(case[k], bool) for k in OPTIONS),
        cases=load_mnist_cases,
        notebook=load_mnist_notebook,
        program=load_mnist_program,
        expected=load_mnist_expected,
        checks=(
            Check(
                "shapes",
                compare=_shapes_rule,
                description="(60000, 784) or (60000, 1, 28, 28) images; (N,) or (N, 10) labels",
            ),
            _sample_check(part="x", split="train", tol=MNIST_PIXELS, description=images),
            _sample_check(part="t", split="train", tol=EXACT, description=labels),
            _sample_check(part="x", split="test", tol=MNIST_PIXELS, description=images),
            _sample_check(part="t", split="test", tol=EXACT, description=labels),
        ),
        describe=describe_mnist,
        convention="book: load_mnist(normalize=True, flatten=True, one_hot_label=False) -> "
        "(x_train, t_train), (x_test, t_test); the IDX files are staged beside dataset/mnist.py",
        verified_by="md5 of the IDX files and the reference loader (tests/graders/test_dlfs_specs.py)",
    )


# ---------------------------------------------------------------- cases
def _options(normalize: bool, flatten: bool, one_hot_label: bool) -> Case:
    return {"normalize": normalize, "flatten": flatten, "one_hot_label": one_hot_label}


def load_mnist_notebook() -> list[NamedCase]:
    return [
        NamedCase("book: the defaults, load_mnist(normalize=True, flatten=True, one_hot_label=False)",
                  _options(True, True, False)),
        NamedCase("not the book's defaults: every option flipped (uint8 (N, 1, 28, 28) images, one-hot labels)",
                  _options(False, False, True)),
    ]


def load_mnist_cases() -> st.SearchStrategy[Case]:
    """Only the training script's combination besides the fixed ones: each call reads 55 MB in the worker."""
    return st.just(_options(True, True, True))


# ---------------------------------------------------------------- program, reference, rules
def load_mnist_program(case: Case) -> Program:
    """load_mnist(**options); fetch the first and last 64 entries and the shape of each returned array."""
    outputs: dict[str, Expr] = {}
    for split, i in SPLITS:
        for part, j in PARTS:
            array = Item(Item(Result("data"), i), j)
            outputs[f"{part}_{split}_head"] = Slice(array, 0, SAMPLE)
            outputs[f"{part}_{split}_tail"] = Slice(array, -SAMPLE, None)
            outputs[f"{part}_{split}_shape"] = Attr(array, "shape")
    kwargs = {k: Input(k) for k in OPTIONS}
    return Program(steps=(call("data", "mnist", "load_mnist", **kwargs),), outputs=outputs)


@functools.cache
def _mnist_raw() -> dict[str, np.ndarray]:
    """The raw uint8 images (N, 28, 28) and labels of both splits, read once per process by the reference."""
    folder = mnist_dir()
    if folder is None:
        raise FileNotFoundError("MNIST files not found: set NNGRADE_MNIST_DIR to grade load_mnist")
    (x_train, t_train), (x_test, t_test) = D.load_mnist(False, False, False, data_dir=folder)
    return {"x_train": x_train[:, 0], "t_train": t_train, "x_test": x_test[:, 0], "t_test": t_test}


def format_mnist(images: np.ndarray, labels: np.ndarray, case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The book's options applied to raw images (n, 28, 28) and labels (n,): what reference.load_mnist returns
    for those rows (tests check the two agree for every combination)."""
    x = np.divide(images, np.float32(255.0), dtype=np.float32) if case["normalize"] else images
    x = x.reshape(len(x), -1) if case["flatten"] else x.reshape(len(x), 1, *images.shape[1:])
    t = one_hot(labels, 10) if case["one_hot_label"] else labels
    return x, t


def load_mnist_expected(case: Case) -> dict[str, Any]:
    raw = _mnist_raw()
    result: dict[str, Any] = {}
    for split, _ in SPLITS:
        images, labels = raw[f"x_{split}"], raw[f"t_{split}"]
        for name, rows in (("head", slice(0, SAMPLE)), ("tail", slice(-SAMPLE, None))):
            x, t = format_mnist(images[rows], labels[rows], case)
            result[f"x_{split}_{name}"], result[f"t_{split}_{name}"] = x, t
        x_all, t_all = format_mnist(images[:1], labels[:1], case)
        result[f"x_{split}_shape"] = (len(images), *x_all.shape[1:])
        result[f"t_{split}_shape"] = (len(labels), *t_all.shape[1:])
    return result


def _shapes_rule(case: Case, actual: Mapping[str, Any], expected: Mapping[str, Any], check: Check) -> Verdict:
    for split, _ in SPLITS:
        for part, _ in PARTS:
            name = f"{part}_{split}_shape"
            got = actual.get(name)
            shape = tuple(got) if isinstance(got, (tuple, list)) else got
            if shape != tuple(expected[name]):
                return Verdict(False, f"{part}_{split} has shape {shape}, expected {tuple(expected[name])}")
    return Verdict(True)


def _sample_check(*, part: str, split: str, tol: Tol, description: str) -> Check:
    return Check(
        f"{part}_{split}",
        outputs=(f"{part}_{split}_head", f"{part}_{split}_tail"),
        tol=tol,
        description=description,
    )


def describe_mnist(case: Case) -> str:
    return "load_mnist(" + ", ".join(f"{k}={case[k]}" for k in OPTIONS) + ")"
