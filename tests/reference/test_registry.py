"""Tests of the reference generated from the registry: every spec is checked the same way.

For each spec: the reference against PyTorch (float64, autograd for gradients) with the spec's own tolerances;
every analytic gradient against central finite differences (float64, random dout, h = 1e-5); fast and naive (and
other same_as twins) agree; the reference does not modify its inputs; float32 in gives float32 out.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graders.checks import compare_arrays
from graders.specs import registry
from graders.specs.base import Case, Spec
from reference.gradcheck import eval_numerical_gradient
from tests.course_example import example_course_specs

#: Every built-in spec, and the worked example course's (courses/example): a course's specs get the same tests.
SPECS = {spec.name: spec for spec in registry.all_specs()} | example_course_specs()


def names(predicate: Any) -> list[str]:
    return [name for name, spec in SPECS.items() if predicate(spec)]


def cases_of(spec: Spec) -> st.SearchStrategy[Case]:
    """Property cases, with the fixed (notebook) cases always among them."""
    fixed = spec.fixed_cases()
    strategy = spec.cases()
    return st.one_of(st.sampled_from(fixed), strategy) if fixed else strategy


def assert_outputs_match(spec: Spec, ours: dict[str, Any], theirs: dict[str, Any], what: str) -> None:
    compared = 0
    for check in spec.checks:
        for output in check.output_names:
            if output in ours and output in theirs:
                verdict = compare_arrays(output, ours[output], theirs[output], check.atol, check.rtol)
                assert verdict.passed, f"{spec.name} vs {what}: {verdict.message}"
                compared += 1
    assert compared, f"{spec.name}: no output in common with {what}"


@pytest.mark.parametrize("name", names(lambda s: s.torch_expected is not None))
@given(data=st.data())
def test_reference_matches_torch(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    case = data.draw(cases_of(spec))
    assert spec.torch_expected is not None
    assert_outputs_match(
        spec, spec.expected(copy.deepcopy(case)), spec.torch_expected(copy.deepcopy(case)), "torch"
    )


@pytest.mark.parametrize(
    "name, index",
    [(n, i) for n in names(lambda s: bool(s.gradients)) for i in range(len(SPECS[n].gradients))],
)
@given(data=st.data())
def test_gradient_matches_finite_differences(name: str, index: int, data: st.DataObject) -> None:
    spec = SPECS[name]
    gradient = spec.gradients[index]
    case = data.draw(cases_of(spec))
    analytic = spec.expected(copy.deepcopy(case))[gradient.output]

    def scalar_of(value: np.ndarray) -> float:
        perturbed = copy.deepcopy(case)
        perturbed[gradient.wrt] = value
        return gradient.scalar(perturbed)

    numeric = eval_numerical_gradient(scalar_of, np.array(case[gradient.wrt], dtype=np.float64), h=1e-5)
    verdict = compare_arrays(gradient.output, analytic, numeric, gradient.atol, gradient.rtol)
    assert verdict.passed, f"{name}: analytic vs finite differences: {verdict.message}"


@pytest.mark.parametrize("name", names(lambda s: s.same_as is not None))
@given(data=st.data())
def test_twins_agree(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    assert spec.same_as is not None
    twin = SPECS[spec.same_as]
    case = data.draw(cases_of(spec))
    assert_outputs_match(
        spec, spec.expected(copy.deepcopy(case)), twin.expected(copy.deepcopy(case)), twin.name
    )


@pytest.mark.parametrize("name", names(lambda s: bool(s.read_only)))
@given(data=st.data())
def test_reference_does_not_mutate_inputs(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    case = data.draw(cases_of(spec))
    before = copy.deepcopy(case)
    spec.expected(case)
    for key in spec.read_only:
        np.testing.assert_array_equal(case[key], before[key], err_msg=f"{name} modified its input {key}")


@pytest.mark.parametrize("name", names(lambda s: s.dtype_preserving))
def test_float32_in_gives_float32_out(name: str) -> None:
    spec = SPECS[name]
    case = {
        k: (v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v)
        for k, v in spec.fixed_cases()[0].items()
    }
    outputs = spec.expected(case)
    floats = [v for v in outputs.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    assert floats, f"{name}: no float array output"
    for value in floats:
        assert value.dtype == np.float32, f"{name}: float32 input gave {value.dtype} output"


def test_every_spec_is_checked_against_something() -> None:
    """A spec with neither a torch adapter, a twin nor a custom rule would be verified by nothing."""
    unverified = [
        n
        for n, s in SPECS.items()
        if s.torch_expected is None
        and s.same_as is None
        and not s.gradients
        and not s.verified_by
    ]
    assert not unverified, f"specs verified by nothing: {unverified}"
