"""An example course package for nngrade: a dilated convolution and a leaky ReLU, graded like built-in layers.

Installed (``pip install ./courses/example``), its entry point ``nngrade.courses: example =
nngrade_example_course`` makes nngrade find this module; its ``FACTORIES`` are the two modules' specs and its
``assignments/`` folder holds the assignment file. The same folder works without installing:
``nngrade grade SUBMISSION --specs courses/example/nngrade_example_course --assignment example-course``.
"""

from nngrade_example_course.dilated_conv import FACTORIES as _DILATED_CONV
from nngrade_example_course.leaky_relu import FACTORIES as _LEAKY_RELU

FACTORIES = {**_LEAKY_RELU, **_DILATED_CONV}
