"""The registry's vocabulary: one ``Spec`` per gradable function (after PyTorch's OpInfo).

A spec is declared once and used twice:
  * tests of the reference: ``expected`` vs ``torch_expected`` (allclose with each check's tolerances) and the
    analytic gradients in ``expected`` vs central finite differences (``gradients``), over ``cases`` and
    ``fixed_cases``;
  * grading a student: the worker runs ``program(case)`` against the student's modules, and each ``Check``
    compares the fetched outputs with ``expected(case)`` (or judges them with a custom rule).

Cases are plain dicts of named inputs (NumPy arrays, Python scalars, dicts of those) so they can cross the
process boundary as ``.npy`` bytes and JSON, and be written into a counterexample's repro snippet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from graders.specs.program import Program

Case = dict[str, Any]
Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one case."""

    passed: bool
    message: str = ""
    #: 2-D map of where an array differs (e.g. max |dx - expected| over N and C), for the report's heat map.
    where: list[list[float]] | None = None
    where_label: str = ""
    #: A passing check's remark for the student (right values in a harmless form, such as (1, D) for (D,)).
    warning: str = ""


#: A custom comparison: (case, student outputs, reference outputs, check) -> Verdict.
CompareFn = Callable[[Case, Outputs, Outputs, "Check"], Verdict]


@dataclass(frozen=True)
class Check:
    """One graded property of a function, worth ``points`` (the assignment may override the points).

    By default a check compares the student's output ``outputs[0]`` (and any further names) with the
    reference's, allclose-style with an explicit ``atol``/``rtol``. ``compare`` replaces that rule for checks
    that are not equalities (dropout's keep rate, same output for the same seed, ...).
    """

    name: str
    outputs: tuple[str, ...] = ()
    atol: float = 1e-8
    rtol: float = 1e-6
    points: float = 1.0
    compare: CompareFn | None = None
    #: Also accept float32 results judged at float32 tolerances (assignments that allow float32).
    description: str = ""

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


@dataclass(frozen=True)
class GradientCheck:
    """Reference self-test: ``expected(case)[output]`` must equal d scalar(case) / d case[wrt]."""

    output: str
    wrt: str
    scalar: Callable[[Case], float]
    atol: float = 1e-7
    rtol: float = 1e-5


@dataclass(frozen=True, eq=False)
class CaseRun:
    """Everything the grader saw for one case: the evidence diagnoses are drawn from. Compared by identity
    (its fields hold arrays)."""

    case: Case
    actual: Outputs
    expected: Outputs
    verdicts: Mapping[str, Verdict]
    error: str | None = None
    #: Why this case says nothing about the function (a setup step, such as the student's forward that a
    #: backward needs, raised): its verdicts are not counted. None: the case was judged.
    unjudged: str | None = None
    #: How each check was judged when not against the reference through the student's own calls: "the
    #: hand-out's cache", "finite differences of your forward".
    judged_by: Mapping[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A judged case on which some check failed (an exception counts: every check then fails)."""
        return self.unjudged is None and not all(v.passed for v in self.verdicts.values())

    def failed_on(self, *checks: str) -> bool:
        """A judged case that raised nothing and failed at least one of ``checks``."""
        return self.unjudged is None and self.error is None and any(
            name in self.verdicts and not self.verdicts[name].passed for name in checks)


@dataclass(frozen=True)
class Diagnosis:
    """A known bug pattern: a plain sentence for the student and a detector over the evidence.

    ``applies`` sees every case run of the function (passing and failing), so it can say things like
    "fails only when pad = 0" or "dx is wrong only at the padded border".
    """

    name: str
    sentence: str
    applies: Callable[[Sequence[CaseRun]], bool]


Api = Literal["function", "class"]


@dataclass(frozen=True)
class Robustness:
    """A separate, named, small check: behaviour outside the hand-out's domain that a mature implementation
    handles (huge scores, log(0), any-shape input), or a habit that bites later (writing into an input).

    It has its own points (``weight`` relative to the checks' ``points``, or set in the assignment TOML), its
    own sentence, and never decides the main checks, which are judged on the hand-out's domain only.

    Two kinds: with ``cases``, the spec's ``checks`` (default: all) must hold on those extra cases; with
    ``unchanged``, those inputs must come back unmodified on every main case.
    """

    name: str
    description: str
    sentence: str
    cases: Callable[[], list[Case]] | None = None
    checks: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    weight: float = 0.25

    @property
    def check_name(self) -> str:
        """The name of its entry among the function's checks in a report."""
        return f"robust:{self.name}"


@dataclass(frozen=True)
class OwnGradient:
    """How to judge a backward whose cache is the student's own (batch norm, layer norm, sandwiches): against
    central differences of the student's own forward, as the hand-out's notebook does. Used only where the
    comparison with the reference fails, and only when the student's forward is close to the reference's
    (within ``closeness``): a backward that is the exact gradient of a forward with a small slip (eps left
    out) gets its points; a pair of made-up functions does not.

    ``forward(case)`` is a program that runs the student's forward on the case's inputs and fetches ``out``;
    ``wrt`` maps each gradient output to the input it differentiates; ``out`` names the forward output in the
    backward's own program (compared with the reference's for the closeness test).
    """

    forward: Callable[[Case], Program]
    wrt: Mapping[str, str]
    out: str = "out"
    h: float = 1e-5
    closeness: float = 0.05
    #: at most this many entries perturbed per case (2 forward calls each); larger cases are not re-judged
    max_entries: int = 400


@dataclass(frozen=True)
class Spec:
    """One gradable function or class, declared once for both the reference tests and the grader."""

    name: str
    #: Module key the function lives in (the assignment maps keys to files): "layers", "layer_utils", ...
    module: str
    api: Api
    cases: Callable[[], st.SearchStrategy[Case]]
    program: Callable[[Case], Program]
    expected: Callable[[Case], dict[str, Any]]
    checks: tuple[Check, ...]
    fixed_cases: Callable[[], list[Case]] = lambda: []
    torch_expected: Callable[[Case], dict[str, Any]] | None = None
    gradients: tuple[GradientCheck, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    describe: Callable[[Case], str] | None = None
    #: Names of other specs whose code this one runs first (a backward needs its forward's cache).
    depends_on: tuple[str, ...] = ()
    #: Names of student functions this one may call internally (sandwiches call layers); informative.
    convention: str = ""
    #: Another spec computing the same function (fast vs naive, backward_alt vs backward): tests compare them.
    same_as: str | None = None
    #: Case inputs that a correct implementation must not modify (a mutation is a warning, not a failure).
    read_only: tuple[str, ...] = ()
    #: Inputs whose float32 version must give float32 results ("float32 in gives float32 out").
    dtype_preserving: bool = False
    #: At most this many property cases whatever the profile: for functions whose cases are expensive and whose
    #: checks are statistical over one large case (dropout on 40,000 entries) rather than about geometry.
    max_examples: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Realistic sizes (N = 64, 32x32 images, 16 channels): judged by every check, run once, never shrunk.
    scale_cases: Callable[[], list[Case]] = lambda: []
    #: Separate small checks outside the hand-out's domain (see Robustness).
    robustness: tuple[Robustness, ...] = ()
    #: For a backward whose hand-out fixes the forward's cache: the program that calls the student's backward
    #: with that cache built from the case (and the case it runs on), tried when the student's own forward and
    #: cache fail; the backward then keeps the points for what it computes.
    handout_program: Callable[[Case], tuple[Program, Case]] | None = None
    #: For a backward whose cache is the student's own: judged against their forward (see OwnGradient).
    own_gradient: OwnGradient | None = None

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no check {name!r}")


def describe_case(case: Case) -> str:
    """Default one-line description of a case: array shapes and scalar parameters."""
    parts = []
    for key, value in case.items():
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {tuple(value.shape)}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k}={v!r}" for k, v in value.items() if not isinstance(v, np.ndarray))
            parts.append(f"{key} {{{inner}}}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)
