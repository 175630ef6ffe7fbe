"""Constants and helpers shared by the book's specs (and by no other family: shared ones live in the kit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graders.specs.base import Case, Check
from graders.specs.kit.networks import Spread, dense_params, judge_entries
from graders.specs.kit.programs import net_program
from graders.specs.kit.tolerances import NETWORK_NUMERICAL_GRADIENT, NORMALISED_GRADIENTS
from graders.specs.kit.torch import torch_one_thread
from graders.specs.program import Expr, Input, Item, Program, Result, merged
from reference import dlfs as D
from reference.functional.losses import softmax_loss as exact_softmax_loss
from reference.layers import BOOK_BATCHNORM_EPS
from reference.multi_layer_net import init_scale

#: The book's step for numerical gradients (``h = 1e-4``).
BOOK_H = 1e-4
#: Logits beyond this overflow exp() in float64.
OVERFLOW_LOGIT = 709.0
#: Every true-class probability in SoftmaxWithLoss and TwoLayerNet cases stays above this, so the book's 1e-7
#: inside the log moves the loss by at most 1e-7 / floor (2e-5): code with or without it is within LOSS_ATOL.
PROBABILITY_FLOOR = 0.005
LOSS_ATOL = 5e-5
#: Hidden pre-activations of TwoLayerNet cases stay this far from ReLU's kink (finite differences move them by
#: at most h * |x| ~ 3e-4).
KINK_MARGIN = 0.05


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """Float one-hot rows, as the book builds them (zeros with a single 1)."""
    return np.eye(classes)[labels]


# ---------------------------------------------------------------- the book's network classes
#: The larger net MultiLayerNet's and MultiLayerNetExtend's ``__init__`` are judged on: (input_size,
#: hidden_size_list, output_size).
DENSE_INIT_SIZES = (120, [80, 60], 40)
#: The ``weight_init_std`` values their cases draw: each name the book gives He or Xavier by, and a number.
WEIGHT_INIT_OPTIONS = ("relu", "he", "sigmoid", "xavier", 0.01)
#: Relative error allowed on an initial weight's standard deviation: the ``__init__`` nets' weights have at least
#: 2,400 entries, so the sample standard deviation is within about 1.5% of the true one.
INIT_SCALE_RTOL = 0.15
#: The book's initial weight scale for a weight of this shape (He for 'relu'/'he', Xavier for 'sigmoid'/'xavier',
#: or the number given), as MultiLayerNet and MultiLayerNetExtend's ``__init__`` checks judge it.
BOOK_SPREAD = Spread(
    rtol=INIT_SCALE_RTOL,
    scale=lambda case, shape: init_scale(case["weight_init_std"], shape[0]),
    said=lambda case, scale, shape: f"{scale:.4g} for weight_init_std={case['weight_init_std']!r} and fan-in "
                                    f"{shape[0]}")


def book_net_program(module: str, cls: str, *, init: Program, ctor: Mapping[str, Expr], params: Sequence[str],
                     accuracy: tuple[str, str] = ("x", "t")) -> Program:
    """The ``init`` program (the constructor's parameters, kit ``initial_params``), then a net built with
    ``ctor`` and the case's ``params`` written in place, and its public methods in the book's order: predict,
    loss and accuracy (on the case's inputs ``accuracy``), gradient, then numerical_gradient last (it
    perturbs the parameters). Outputs predict, loss, accuracy, grad_<k> and numgrad_<k>."""
    x, t = Input("x"), Input("t")
    outputs: dict[str, Expr] = {"predict": Result("scores"), "loss": Result("loss"), "accuracy": Result("acc")}
    outputs.update({f"grad_{k}": Item(Result("grads"), k) for k in params})
    outputs.update({f"numgrad_{k}": Item(Result("numerical"), k) for k in params})
    net = net_program(module, cls, ctor=ctor, params=params, calls=(
        ("scores", "predict", (x,)), ("loss", "loss", (x, t)), ("acc", "accuracy", tuple(Input(a) for a in accuracy)),
        ("grads", "gradient", (x, t)), ("numerical", "numerical_gradient", (x, t))), outputs=outputs)
    return merged([init, net])


def gradient_results(net: Any, x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    """A reference net's ``gradient`` and ``numerical_gradient`` (the book's h) as outputs grad_<k>, numgrad_<k>."""
    result = {f"grad_{k}": v for k, v in net.gradient(x, t).items()}
    result.update({f"numgrad_{k}": v for k, v in net.numerical_gradient(x, t, BOOK_H).items()})
    return result


def book_net_results(init: Any, net: Any, x: np.ndarray, t: np.ndarray,
                     accuracy: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """What :func:`book_net_program` fetches, from reference nets: ``init``'s parameters, then ``net``'s predict,
    loss, accuracy (on ``accuracy``'s inputs, else x and t) and gradients."""
    result: dict[str, Any] = {f"init_{k}": v for k, v in init.params.items()}
    result.update(predict=net.predict(x), loss=net.loss(x, t), accuracy=net.accuracy(*(accuracy or (x, t))))
    result.update(gradient_results(net, x, t))
    return result


def gradient_checks(keys: Sequence[str], names: Sequence[str] | None, *, gradient: str, numerical: str
                    ) -> tuple[Check, Check]:
    """A book net's ``gradient`` and ``numerical_gradient`` checks: every parameter's entry of the returned dict
    (``keys``: the most a case has; ``names``: the order they are judged in, None for the reference's own),
    backpropagation worth twice the other. ``gradient`` and ``numerical`` describe them."""
    return (Check("gradient", outputs=tuple(f"grad_{k}" for k in keys), tol=NORMALISED_GRADIENTS, points=2.0,
                  compare=judge_entries("grad_", names), description=gradient),
            Check("numerical_gradient", outputs=tuple(f"numgrad_{k}" for k in keys), tol=NETWORK_NUMERICAL_GRADIENT,
                  compare=judge_entries("numgrad_", names), description=numerical))


# ---------------------------------------------------------------- MultiLayerNet and MultiLayerNetExtend
def dense_keys(depth: int, *, normalized: bool = False) -> list[str]:
    """W1, b1, ..., W<depth>, b<depth> and, with batch norm, gamma<i>, beta<i> of each hidden layer."""
    keys = [f"{p}{i}" for i in range(1, depth + 1) for p in ("W", "b")]
    if normalized:
        keys += [f"{p}{i}" for i in range(1, depth) for p in ("gamma", "beta")]
    return keys


def dense_case(rng: np.random.Generator, n: int, sizes: Sequence[int], *, gamma_spread: float | None = None,
               **options: Any) -> Case:
    """A fully connected net's case: its sizes and ``options`` (the constructor's arguments), parameters (kit
    ``dense_params``), ``n`` inputs and labels ``t``."""
    case: Case = {"input_size": sizes[0], "hidden_size_list": list(sizes[1:-1]), "output_size": sizes[-1], **options}
    case.update(dense_params(rng, sizes, gamma_spread=gamma_spread))
    case["x"] = rng.standard_normal((n, sizes[0]))
    case["t"] = rng.integers(0, sizes[-1], size=n)
    return case


def activate(case: Case, a: np.ndarray) -> np.ndarray:
    """The case's hidden activation, ReLU or sigmoid."""
    return np.maximum(a, 0.0) if case["activation"] == "relu" else np.asarray(D.sigmoid(a))


def hidden_inputs(case: Case, *, batchnorm: bool = False) -> list[np.ndarray]:
    """Each hidden activation's input in train mode without dropout: the affine output, batch-normalised with
    the batch's statistics where ``batchnorm``."""
    out, found = np.asarray(case["x"]), []
    for i in range(1, len(case["hidden_size_list"]) + 1):
        out = out @ case[f"W{i}"] + case[f"b{i}"]
        if batchnorm:
            xc = out - out.mean(axis=0)
            out = case[f"gamma{i}"] * xc / np.sqrt(np.mean(xc ** 2, axis=0) + BOOK_BATCHNORM_EPS) + case[f"beta{i}"]
        found.append(out)
        out = activate(case, out)
    return found


def dense_scores(case: Case, *, batchnorm: bool = False) -> np.ndarray:
    """The scores in train mode without dropout."""
    depth = len(case["hidden_size_list"]) + 1
    hidden = activate(case, hidden_inputs(case, batchnorm=batchnorm)[-1])
    return np.asarray(hidden @ case[f"W{depth}"] + case[f"b{depth}"])


def weight_decay(case: Case) -> float:
    """The book's weight decay, 0.5 * weight_decay_lambda * sum(W**2) over every weight."""
    depth = len(case["hidden_size_list"]) + 1
    return 0.5 * case["weight_decay_lambda"] * sum(float(np.sum(case[f"W{i}"] ** 2)) for i in range(1, depth + 1))


def exact_dense_loss(case: Case, *, batchnorm: bool = False) -> float:
    """The train-mode loss without dropout and without the book's 1e-7 in the log (what backpropagation
    differentiates), weight decay included."""
    return float(exact_softmax_loss(dense_scores(case, batchnorm=batchnorm), case["t"])[0]) + weight_decay(case)


def torch_dense(case: Case, keys: Sequence[str], *, batchnorm: bool = False) -> tuple[Any, Any, dict[str, Any]]:
    """The train-mode net without dropout by torch autograd in float64 (batch statistics with the biased variance
    and the book's eps where ``batchnorm``; cross-entropy without the 1e-7, within BOOK_LOSS; the weight decay),
    differentiated: (scores, loss, the parameters' tensors, their gradients filled in)."""
    torch = torch_one_thread()
    import torch.nn.functional as F

    params = {k: torch.tensor(case[k], requires_grad=True) for k in keys}
    out = torch.tensor(case["x"])
    depth = len(case["hidden_size_list"]) + 1
    for i in range(1, depth + 1):
        out = out @ params[f"W{i}"] + params[f"b{i}"]
        if i == depth:
            break
        if batchnorm:
            out = F.batch_norm(out, None, None, params[f"gamma{i}"], params[f"beta{i}"], training=True,
                               eps=BOOK_BATCHNORM_EPS)
        out = torch.relu(out) if case["activation"] == "relu" else torch.sigmoid(out)
    loss = F.cross_entropy(out, torch.tensor(case["t"])) + 0.5 * case["weight_decay_lambda"] * sum(
        (params[f"W{i}"] ** 2).sum() for i in range(1, depth + 1))
    loss.backward()
    return out, loss, params
