"""The shared kit: what every spec family may borrow besides the vocabulary (base, program, strategies).

A family module (dense.py, conv.py, dlfs/layers.py, ...) imports from ``graders.*`` only the vocabulary and
these modules, never another family (tests/graders/test_spec_layout.py enforces it); a kit module never
imports a family. When two families need the same helper, it moves here, into the module whose job it fits:

* ``cases``: the three tiers of cases (``named`` turns a notebook-case function into ``Spec.notebook``;
  ``first_valid`` is a notebook case from a fixed seed).
* ``tolerances``: the named tolerances (``Tol``) with the reason for each width.
* ``programs``: Program builders: a forward's ``out``, a backward through the student's own forward and cache
  or through the hand-out's cache, the forward an ``OwnGradient`` differentiates, a book layer's
  construct-forward-backward sequence and its reference, an update rule's consecutive steps (each call given
  the previous one's results, as a training loop does), a network class through its public methods (the
  parameters written in, the constructor's parameters, the (loss, grads) its loss returns).
* ``gradients``: the scalar ``sum(out * dout)`` whose gradient a backward computes (for ``GradientCheck``).
* ``rules``: building blocks of custom ``Check.compare`` rules: reading an output as an array of a shape, the
  input-unchanged robustness check, and graders.checks' comparisons (families do not import graders.checks).
* ``detectors``: building blocks of ``Diagnosis.applies``: matching a bug model ("your outputs are the
  reference's with this bug"), "fails only when", and the one "close enough to name a bug" comparison.
* ``windows``: convolution and pooling window geometry shared by cs231n's and the book's layers: sizes,
  geometry-first cases, tie-free inputs, the reference outputs detectors recompute, geometry bug models, the
  torch twins of conv and pool, the inputs a convolution rejects (cs231n's conv and the extras' layers).
* ``batchnorm``: the one batch-norm bug model (``BatchNormBug``) both traditions use, set by a ``Convention``
  (where eps and momentum come from, how a 4-D input is flattened).
* ``masks``: dropout mask rules and detectors, whatever the hand-out calls its probability (the keep
  probability is read from the case by a function).
* ``maskstats``: the statistics behind the mask rules (tail bounds with a stated false-alarm rate).
* ``shifted``: judging softmax-like functions on huge scores by shift invariance.
* ``torch``: the tests' torch adapters (torch imported lazily, one thread; the grader never imports it).
* ``resources``: what the grading machine provides besides the spec: the functions handed to student code
  and the data sets' folders.
* ``networks``: what every network class's spec does alike: drawing its parameters, judging a returned dict of
  gradients entry by entry, judging the parameters ``__init__`` made (``InitRule``).
* ``layer_specs``: the forward/backward spec pair of a cs231n layer (affine, ReLU, conv, max pool): what the
  two share (``LayerInputs``) declared once, ``forward_spec`` and ``backward_spec`` adding the rest.

Nothing is re-exported from this package: import the module that holds the helper.
"""
