"""Named tolerances, each with the reason for its width. A check says ``tol=SUMS``, never two bare numbers.

How to choose: correct float64 code written another way (loops, einsum, im2col, a different summation order)
differs from the reference by rounding only, about 1e-16 times the size of the terms summed, times their
number. A tolerance should be some orders of magnitude above that (correct code always passes) and many
orders below what the smallest real bug changes (a missing eps changes a normalised value by ~1e-3, a
wrong window by a whole entry). ``atol`` covers results near zero, ``rtol`` the others. A new check reuses the
name whose reason fits; a new name needs a reason of its own.
"""

from __future__ import annotations

from graders.specs.base import FINITE_DIFFERENCES as FINITE_DIFFERENCES  # GradientCheck's default
from graders.specs.base import Tol

# ---------------------------------------------------------------- no arithmetic, or one operation
EXACT = Tol(0.0, 0.0, "selection, masking and copying (max(0, x), gathered patches): no arithmetic rounds")
IDENTITY = Tol(0.0, 1e-12, "values that are an input itself or one multiplication of it (dropout's kept "
                           "units, test-mode identity); ulps only")
RESTORED = Tol(1e-12, 1e-12, "an input perturbed and put back: (x + h) - h may differ from x by an ulp")
SCALE_RATIO = Tol(0.0, 1e-7, "a ratio out / x of two stored values; the scale bugs it catches (1/p for 1/keep, "
                             "no scaling) differ by whole factors")
COUNT_RATIO = Tol(1e-12, 0.0, "a fraction of counts (accuracy): exact up to the division's ulp")

# ---------------------------------------------------------------- a few operations per entry
ELEMENTWISE = Tol(1e-12, 1e-9, "a few floating-point operations per entry on O(1) values (sigmoid, softmax "
                               "rows, the book's layers): correct forms differ by ulps")
ELEMENTWISE_NORMALISED = Tol(1e-12, 1e-8, "softmax rows of up to ~10 classes, where exp of a shifted or "
                                          "unshifted row rounds differently by a few ulps per term")
OVERLAP_SUMS = Tol(1e-12, 1e-10, "each entry a sum of a handful of overlapping patch entries (col2im), in any "
                                 "order")
FLOAT32_RULE = Tol(1e-6, 1e-5, "a few float32 operations per entry on O(1) weights (timm's adapt_input_conv "
                               "computes in float32 whatever the dtype): float64 arithmetic differs by ~1e-7 "
                               "relative, every bug of the rule by whole factors")
MASKED_GRADIENT = Tol(1e-12, 1e-7, "dout times a stored mask over a keep probability: one product and one "
                                   "division per entry")

# ---------------------------------------------------------------- sums of products
PRODUCT_SUMS = Tol(1e-9, 1e-7, "sums of up to a few hundred products of N(0, 1) values (matrix products, "
                               "pooling windows, normalised activations): correct code agrees to ~1e-13, a "
                               "real bug is off by far more")
CONV_SUMS = Tol(1e-8, 1e-7, "convolution outputs and gradients: sums of up to ~50 products of N(0, 1) values "
                            "per entry, then summed again over positions for dw and db; loops, einsum and "
                            "im2col agree to ~1e-14 on these magnitudes")
SMALL_GRADIENTS = Tol(1e-10, 1e-7, "gradients and running statistics of size ~1/N (a loss averaged over the "
                                   "batch, a momentum-weighted mean): the absolute floor shrinks with them")
SOFTMAX_GRADIENT = Tol(1e-10, 1e-6, "softmax-loss gradients (p - onehot) / N, where p computed by exp of "
                                    "shifted scores and p computed by log-sum-exp differ by ~1e-10 relative "
                                    "for probabilities near 1")
NORMALISED_GRADIENTS = Tol(1e-9, 1e-6, "gradients through a normalisation (batch norm's dx, a network's "
                                       "backprop): the paper's graph and the simplified formula are "
                                       "algebraically equal but cancel differently, ~1e-9 relative when the "
                                       "variance is small")

# ---------------------------------------------------------------- approximations the hand-out itself makes
BOOK_LOSS = Tol(5e-5, 1e-7, "the book adds 1e-7 inside log(); with every true-class probability above 0.005 "
                            "(the cases' floor) that moves the loss by at most 2e-5, so code with or without "
                            "it agrees within 5e-5")
CENTRAL_DIFFERENCE = Tol(1e-6, 1e-6, "the book's central difference with h = 1e-4 on the staged smooth "
                                     "functions: truncation ~h^2 times a bounded third derivative")
NETWORK_NUMERICAL_GRADIENT = Tol(1e-5, 1e-4, "a whole network's numerical gradient with the book's h = 1e-4: "
                                             "the loss is a sum over layers, its third derivative larger")
MNIST_PIXELS = Tol(1e-6, 0.0, "pixels divided by 255 in float32 (the book) or float64: they differ by ~3e-8")
LINEAR_GRADIENTS = Tol(1e-8, 1e-7, "a linear classifier's dW = X.T @ dscores plus the L2 term, with pixel-sized X "
                                   "(|x| up to ~130) summed over up to a few hundred examples: entries up to ~100, "
                                   "a loop's summation order moves them by ~1e-13 relative to the terms")
LOSS_FINITE_DIFFERENCES = Tol(1e-6, 1e-5, "finite differences of a loss over scores up to ~30 in size: "
                                          "cancellation grows with the scores")

# ---------------------------------------------------------------- optimizers
OPTIMIZER_STEP = Tol(1e-12, 1e-9, "a parameter after a few update-rule steps: a handful of operations per entry "
                                  "and step on O(1) weights; in-place, reordered or np.square forms differ by ulps, "
                                  "the smallest real bug (eps inside the root on 1e-5 gradients) by far more")
OPTIMIZER_STATE = Tol(1e-15, 1e-9, "an optimizer's moving averages (velocity, cache, m, v): one multiply-add per "
                                   "entry and step, rounding relative to the terms; the absolute floor is 1% of the "
                                   "smallest averages the cases reach (squares of 1e-5 gradients times 1 - beta2)")
