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
from dataclasses import KW_ONLY, dataclass, field
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
class Tol:
    """A named tolerance and why it is that wide: a check says ``tol=SUMS``, never two bare numbers.

    ``atol`` and ``rtol`` are NumPy's: ``|actual - expected| <= atol + rtol * |expected|``. The reason says what
    rounding the tolerance absorbs (sums of how many products, a statistic of how many draws), so that a
    reader can tell whether a new check may share it. graders/specs/kit/tolerances.py holds the named ones.
    """

    atol: float
    rtol: float
    reason: str


@dataclass(frozen=True)
class Check:
    """One graded property of a function, worth ``points`` (the assignment may override the points).

    By default a check compares the student's output ``outputs[0]`` (and any further names) with the
    reference's, allclose-style within ``tol``. ``compare`` replaces that rule for checks that are not
    equalities (dropout's keep rate, same output for the same seed, ...); a rule that compares values reads the
    same ``tol``.
    """

    name: str
    outputs: tuple[str, ...] = ()
    _: KW_ONLY
    #: How close counts as equal, with its reason: one of graders/specs/kit/tolerances.py's named ones (the
    #: registry test rejects a check that compares values without one).
    tol: Tol | None = None
    points: float = 1.0
    #: A custom rule replacing allclose: (case, student outputs, reference outputs, check) -> Verdict.
    compare: CompareFn | None = None
    #: What the check is about, for the report ("gradient wrt x, in x's original shape").
    description: str = ""

    def __post_init__(self) -> None:
        if self.tol is None and self.compare is None:
            raise ValueError(f"check {self.name!r} compares values: give it a tol (graders/specs/kit/tolerances.py)")

    @property
    def atol(self) -> float:
        return self.tol.atol if self.tol is not None else 0.0

    @property
    def rtol(self) -> float:
        return self.tol.rtol if self.tol is not None else 0.0

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


#: The reference tests' finite differences (h = 1e-5) on O(1) inputs: truncation ~h^2 = 1e-10 times the third
#: derivative, cancellation ~1e-16 / h = 1e-11 times the values.
FINITE_DIFFERENCES = Tol(1e-7, 1e-5, "central differences with h = 1e-5 on O(1) inputs: truncation ~h^2, "
                                     "cancellation ~1e-16 / h")


@dataclass(frozen=True)
class GradientCheck:
    """Reference self-test: ``expected(case)[output]`` must equal d scalar(case) / d case[wrt] (central
    differences, within ``tol``)."""

    output: str
    wrt: str
    scalar: Callable[[Case], float]
    tol: Tol = field(default_factory=lambda: FINITE_DIFFERENCES)

    @property
    def atol(self) -> float:
        return self.tol.atol

    @property
    def rtol(self) -> float:
        return self.tol.rtol


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
    #: hand-out's cache", or an OwnGradient's label ("finite differences of your forward", "... of your
    #: network's loss").
    judged_by: Mapping[str, str] = field(default_factory=dict)

    # The one rule for "failed". A case that could not be judged (its setup raised) fails nothing. A call
    # that raised fails every check (its verdicts say so), so ``failed`` counts it; ``failed_on`` does not,
    # because it asks what the outputs were, and a call that raised has none.
    @property
    def failed(self) -> bool:
        """A judged case on which some check failed (an exception counts: every check then fails)."""
        return self.unjudged is None and not all(v.passed for v in self.verdicts.values())

    def failed_on(self, *checks: str) -> bool:
        """A judged case that raised nothing and failed at least one of ``checks``: its outputs are there to
        be compared with a bug model."""
        return self.unjudged is None and self.error is None and any(
            name in self.verdicts and not self.verdicts[name].passed for name in checks)


@dataclass(frozen=True)
class Diagnosis:
    """A known bug pattern: a plain sentence for the student and a detector over the evidence.

    ``applies`` sees every case run of the function (passing and failing), so it can say things like
    "fails only when pad = 0" or "dx is wrong only at the padded border". ``reads`` names the outputs it looks
    at (each must be one of the spec's outputs). ``bug``, where given, is the buggy reference the sentence
    describes (case -> outputs): the registry test checks that the detector fires on it and stays silent on
    the right answer.
    """

    name: str
    sentence: str
    applies: Callable[[Sequence[CaseRun]], bool]
    reads: tuple[str, ...] = ()
    bug: Callable[[Case], Mapping[str, Any]] | None = None


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
    ``wrt`` maps each gradient output to the input it differentiates (a check re-judged this way is one whose
    outputs all appear in ``wrt``: a network's check ``grads`` over every ``grad_<param>`` it has); ``out``
    names the forward output in the backward's own program (compared with the reference's for the closeness
    test).
    """

    forward: Callable[[Case], Program]
    wrt: Mapping[str, str]
    out: str = "out"
    h: float = 1e-5
    closeness: float = 0.05
    #: at most this many entries perturbed per case (2 forward calls each); larger cases are not re-judged
    max_entries: int = 400
    #: how the report names this way of judging (``CaseRun.judged_by``), and why it spares the student's points
    label: str = "finite differences of your forward"
    spares: str = "a mistake in the forward does not cost {name} its points"
    #: (forward output, case key of its upstream gradient) pairs, for a forward with several outputs (an LSTM
    #: step's next_h and next_c, with dnext_h and dnext_c): the scalar differentiated is the sum of
    #: sum(output * case[key]) over them, and each output must be close to the reference's. Empty: ``out``
    #: with ``dout``.
    upstream: tuple[tuple[str, str], ...] = ()
    #: The reference outputs the closeness test compares with, given the case, the student's outputs and the
    #: case's expected ones (a network with dropout: the reference run on the student's own masks). None: the
    #: case's expected outputs.
    reference: Callable[[Case, Outputs, Outputs], Mapping[str, Any]] | None = None
    #: Perturb at most this many entries of each gradient, evenly spread over it, and compare those (the
    #: notebook's grad_check_sparse): a network's parameters are too many to perturb all. 0: every entry.
    sample: int = 0

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (forward output, upstream gradient) pairs of the scalar differentiated."""
        return self.upstream or ((self.out, "dout"),)


@dataclass(frozen=True)
class NamedCase:
    """A hand-picked case with a name a report can quote: "fails the notebook's own check (notebook: x (10, 2,
    3) to 5 outputs, seed 231)". ``inputs`` is an ordinary case."""

    label: str
    inputs: Case


@dataclass(frozen=True)
class ErrorCase:
    """An input the function must reject: the reference raises ``error`` with a message matching ``match``
    (tests/reference/test_spec_fields.py checks every one). ``handout_raises`` marks inputs the hand-out's own
    skeleton rejects (batch norm's ``mode``), the only ones a student's function could fairly be asked about."""

    description: str
    inputs: Case
    error: type[BaseException]
    match: str
    handout_raises: bool = False


@dataclass(frozen=True)
class Reach:
    """Something the property cases must hit for the checks to mean anything ("some case has pad > 0"): the
    registry test finds a drawn case satisfying ``holds`` for every Reach of every spec."""

    name: str
    holds: Callable[[Case], bool]


#: The fields of Spec, by group, in the order the class declares them (tests compare this with the class).
SPEC_FIELDS: dict[str, tuple[str, ...]] = {
    "identity": ("name", "module", "api", "convention", "depends_on", "builds_on", "same_as", "verified_by"),
    "inputs": ("domain", "cases", "reaches", "notebook", "scale", "errors", "describe"),
    "truth": ("expected", "torch_expected", "gradients"),
    "grading": ("program", "checks", "robustness", "diagnoses", "read_only", "dtype_preserving",
                "handout_program", "own_gradient"),
}


def _no_cases() -> list[NamedCase]:
    return []


def _no_scale() -> list[Case]:
    return []


@dataclass(frozen=True, kw_only=True)
class Spec:
    """One gradable function or class, declared once for the reference tests and the grader (after OpInfo).

    Fields, by group (``SPEC_FIELDS``):

    identity
      name, module, api: the function's name, the module key it lives in (an assignment maps keys to files),
      and whether it is a function or a class. convention: the hand-out convention this spec follows, shown
      with the function in reports. depends_on: specs whose code runs first (a backward needs its forward's
      cache). builds_on: the student's functions this one calls (a sandwich its layers): when one of those
      fails too, the report says to fix it first. same_as: another spec of the same function (fast vs naive),
      compared by the reference tests.
      verified_by: where a spec has no torch twin, what verifies its reference instead.
    inputs
      domain: a predicate every case satisfies (the hand-out's domain; checked for every drawn case).
      cases: the property strategy (small, shrinkable). reaches: what some drawn case must hit. notebook:
      named hand-picked cases (the notebook's own checks first), always run. scale: one or two realistic-size
      cases, run once, never shrunk (the profile says how many property cases; statistics that need large
      arrays belong to the notebook and scale tiers). errors: inputs the reference must reject (see
      ErrorCase). describe: one line per case for reports (default: shapes and scalars).
    truth
      expected: the reference's outputs for a case. torch_expected: the same computed with PyTorch (tests
      only). gradients: analytic gradients in ``expected`` checked against finite differences (tests only).
    grading
      program: what the worker runs for a case. checks: the graded properties. robustness: separate small
      checks outside the domain. diagnoses: known bugs named from the evidence. read_only: inputs a correct
      implementation leaves unmodified (a warning otherwise). dtype_preserving: float32 in gives float32 out.
      handout_program: a backward's call with the hand-out's cache, its second chance. own_gradient: a
      backward judged against finite differences of the student's own forward.
    """

    # identity
    name: str
    module: str
    api: Api
    convention: str = ""
    depends_on: tuple[str, ...] = ()
    builds_on: tuple[str, ...] = ()
    same_as: str | None = None
    verified_by: str = ""

    # inputs
    domain: Callable[[Case], bool] | None = None
    cases: Callable[[], st.SearchStrategy[Case]]
    reaches: tuple[Reach, ...] = ()
    notebook: Callable[[], Sequence[NamedCase]] = _no_cases
    scale: Callable[[], list[Case]] = _no_scale
    errors: tuple[ErrorCase, ...] = ()
    describe: Callable[[Case], str] | None = None

    # truth
    expected: Callable[[Case], dict[str, Any]]
    torch_expected: Callable[[Case], dict[str, Any]] | None = None
    gradients: tuple[GradientCheck, ...] = ()

    # grading
    program: Callable[[Case], Program]
    checks: tuple[Check, ...]
    robustness: tuple[Robustness, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    read_only: tuple[str, ...] = ()
    dtype_preserving: bool = False
    handout_program: Callable[[Case], tuple[Program, Case]] | None = None
    own_gradient: OwnGradient | None = None

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no check {name!r}")

    def fixed_cases(self) -> list[Case]:
        """The notebook tier's inputs, in order."""
        return [named.inputs for named in self.notebook()]

    def scale_cases(self) -> list[Case]:
        """The scale tier's cases."""
        return self.scale()


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
