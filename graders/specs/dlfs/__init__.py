"""Specs of "Deep Learning from Scratch" (the ``dlfs`` assignment): the book's ``common/`` code, its MNIST
loader and chapter 5's ``TwoLayerNet``, under the book's own names.

Module keys (the assignment maps them to files): ``functions`` (common/functions.py), ``layers``
(common/layers.py), ``util`` (common/util.py), ``gradient`` (common/gradient.py), ``mnist``
(dataset/mnist.py), ``two_layer_net`` (ch05/two_layer_net.py).

The classes are graded the way the book uses them: construct, ``forward``, ``backward``, then read the
gradient attributes (``dW``, ``db``, ``dgamma``, ``dbeta``). Each of out, dx and every gradient attribute is
its own check, for partial credit.

The book's conventions, and where a case stays inside what the book lets its code assume:

* ``cross_entropy_error`` adds 1e-7 inside the log since the December 2017 printing; code with or without it
  is right on the book's domain (every true-class probability well above 1e-7), and only the small robustness
  check ``zero_probability`` (a true class of probability 0: 16.12 with the delta, inf without) tells them
  apart. A 1-D ``y`` is a batch of one; ``t`` is one-hot or labels (told apart by size, as the book does).
* ``softmax`` takes 1-D or 2-D scores; ordinary scores decide it, and surviving logits of 1e3 (the book's
  motivating example, the max shift) is the robustness check ``large_scores``.
* ``SoftmaxWithLoss.backward(1)`` returns ``(y - t) / N``; it is called with ``dout = 1`` only, as the book's
  networks do (the book ignores its argument). The loss accepts the book's value or the exact log-softmax;
  ``zero_probability`` charges an infinite loss to the layer only when the student's own
  ``cross_entropy_error`` stays finite (the delta's absence is charged once, to that function).
* ``Relu.backward`` zeroes ``dout`` in place in the book: ``dout`` is read-only, so that is a warning, and the
  book's code keeps full marks.
* ``Dropout``: ``dropout_ratio`` is the DROP probability, not inverted (test mode scales by 1 - ratio). The
  mask is graded by rules (keep rate, kept units unchanged, backward through the same mask), not equality.
* ``BatchNormalization``: eps 1e-6 (the book's ``10e-7``), momentum 0.9, biased running variance, running
  statistics created lazily at the first forward, a 4-D input flattened per activation (N, C*H*W); several
  train-mode calls, then one test-mode call.
* ``Convolution``: floor (int truncation) on sizes that do not divide; pad 0-2, stride 1-3, non-square
  kernels.
* ``Pooling``: pad = 0 only -- the book's own ``Pooling`` ignores pad in its output size, and a student must
  never lose points for the book's assumption; overlapping windows, non-square pools, tie-free inputs.
* ``im2col``/``col2im``: rows (n, oy, ox), columns (c, ky, kx); col2im sums overlapping windows.
* ``numerical_gradient(f, x)``: ``f`` is a smooth function staged beside the worker (``nngrade_support``),
  whose exact gradient the grader knows; x is 1-D, 2-D or 4-D (the book's nditer version handles any shape).
  Central differences with h = 1e-4 pass, a one-sided difference fails, and x must be left as it was.
* ``TwoLayerNet``: tiny sizes; the parameters are written into ``net.params`` in place (the book's layers hold
  the same arrays), then predict / loss / accuracy / gradient / numerical_gradient with one-hot ``t``.
* ``SGD``, ``Momentum``, ``Nesterov``, ``AdaGrad``, ``RMSprop``, ``Adam`` (common/optimizer.py): built with
  the book's keyword names, ``update(params, grads)`` called one to five times on the same params dict, every
  parameter judged after every update (the optimizer's own state is never read); the book's exact formulas
  (eps 1e-7 outside the root, Adam's lr_t, Nesterov with the updated velocity); see optimizer.py.
* ``MultiLayerNet`` (common/multi_layer_net.py): any depth, ReLU or sigmoid, t as labels; loss with weight decay
  0.5 * lambda * sum(W**2), gradient with lambda * W; __init__'s He / Xavier scales judged on a larger net.
* ``MultiLayerNetExtend`` (common/multi_layer_net_extend.py): batch norm judged in train and test mode with
  gamma and beta; dropout judged in test mode only (train mode on the same net without dropout: the masks are
  random and internal); see multi_layer_net_extend.py for why.
* ``SimpleConvNet`` (ch07/simple_convnet.py): Conv - Relu - 2x2 Pool - Affine - Relu - Affine on tiny square
  inputs with an even conv output (the book sizes W2 assuming both); accuracy only on 100 or 200 examples (the
  book's default batch_size=100 skips a remainder); see simple_convnet.py.
* ``Trainer`` (common/trainer.py, optional: few points): train_step and train with the grader's own softmax
  network on one training example repeated (every batch is the same data whichever indices are drawn); see
  trainer.py.
* ``load_mnist``: the real MNIST files are staged beside the student's loader; the first and last 64 images
  and labels of each split and all shapes are compared, for a few option combinations.
"""

from __future__ import annotations

from collections.abc import Callable

from graders.specs.base import Spec
from graders.specs.dlfs.batchnorm import batchnorm_spec
from graders.specs.dlfs.convolution import convolution_spec, pooling_spec
from graders.specs.dlfs.dropout import dropout_spec
from graders.specs.dlfs.functions import cross_entropy_spec, sigmoid_spec, softmax_spec
from graders.specs.dlfs.gradient import numerical_gradient_spec
from graders.specs.dlfs.layers import affine_spec, relu_spec, sigmoid_layer_spec
from graders.specs.dlfs.mnist import load_mnist_spec
from graders.specs.dlfs.multi_layer_net import multi_layer_net_spec
from graders.specs.dlfs.multi_layer_net_extend import multi_layer_net_extend_spec
from graders.specs.dlfs.network import two_layer_net_spec
from graders.specs.dlfs.optimizer import FACTORIES as OPTIMIZERS
from graders.specs.dlfs.simple_convnet import simple_convnet_spec
from graders.specs.dlfs.softmax_with_loss import softmax_with_loss_spec
from graders.specs.dlfs.trainer import trainer_spec
from graders.specs.dlfs.util import col2im_spec, im2col_spec

FACTORIES: dict[str, Callable[..., Spec]] = {
    "sigmoid": sigmoid_spec,
    "softmax": softmax_spec,
    "cross_entropy_error": cross_entropy_spec,
    "numerical_gradient": numerical_gradient_spec,
    "im2col": im2col_spec,
    "col2im": col2im_spec,
    "Relu": relu_spec,
    "Sigmoid": sigmoid_layer_spec,
    "Affine": affine_spec,
    "SoftmaxWithLoss": softmax_with_loss_spec,
    "Dropout": dropout_spec,
    "BatchNormalization": batchnorm_spec,
    "Convolution": convolution_spec,
    "Pooling": pooling_spec,
    "TwoLayerNet": two_layer_net_spec,
    "load_mnist": load_mnist_spec,
    **OPTIMIZERS,
    "MultiLayerNet": multi_layer_net_spec,
    "MultiLayerNetExtend": multi_layer_net_extend_spec,
    "SimpleConvNet": simple_convnet_spec,
    "Trainer": trainer_spec,
}
