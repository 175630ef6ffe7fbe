"""One generated test per Spec field: a new family needs no test code of its own unless it adds a field.

Fields and what is checked for every spec that has them:
  vocabulary   every field of Spec is listed in SPEC_FIELDS and described in Spec's docstring; every check's
               tolerance is one of kit/tolerances.py's named ones
  notebook     labels present and distinct; the reference gets full marks through the spec's own program
  cases        the reference gets full marks through the program on drawn property cases
  domain       every drawn, notebook and scale case satisfies it
  reaches      some drawn case satisfies each
  errors       the reference rejects each with the declared error and message
  diagnoses    ``reads`` names outputs the spec has; a diagnosis with a ``bug`` fires on that bug and stays
               silent on the reference
(torch, gradients, same_as, read_only and dtype_preserving are tests/reference/test_registry.py's.)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, settings

from graders.checks import compare_arrays
from graders.sandbox.inprocess import run_case
from graders.specs import registry
from graders.specs.base import SPEC_FIELDS, Case, CaseRun, Spec, Verdict
from graders.specs.kit import tolerances
from tests.graders.drawn import property_cases
from tests.graders.reference_modules import CS231N, DLFS

SPECS = {spec.name: spec for spec in registry.all_specs()}
#: Specs whose program needs data this test does not stage (tests/graders/test_dlfs_specs.py covers it).
NEEDS_DATA = {"load_mnist"}
PROPERTY_CASES = 4


def reference_modules(name: str) -> dict[str, Any]:
    factory = registry.factories()[name]
    return DLFS if factory.__module__.startswith("graders.specs.dlfs") else CS231N


def failures(runs: Sequence[CaseRun]) -> list[str]:
    return [f"{name}: {verdict.message}" for run in runs for name, verdict in run.verdicts.items()
            if not verdict.passed] + [run.error for run in runs if run.error]


def with_field(field: str) -> list[str]:
    """Names of the specs whose ``field`` is set (not its default)."""
    default = {f.name: f for f in dataclasses.fields(Spec)}[field]
    assert default.default is not dataclasses.MISSING, f"{field} has no plain default"
    return [name for name, spec in SPECS.items() if getattr(spec, field) != default.default]


# ---------------------------------------------------------------- the vocabulary itself
def test_every_field_is_grouped_and_documented() -> None:
    declared = [f.name for f in dataclasses.fields(Spec)]
    grouped = [name for group in SPEC_FIELDS.values() for name in group]
    assert grouped == declared, "SPEC_FIELDS must list Spec's fields in declaration order"
    doc = Spec.__doc__ or ""
    for group, names in SPEC_FIELDS.items():
        assert re.search(rf"^\s+{group}$", doc, re.M), f"Spec's docstring has no {group!r} header"
        for name in names:
            assert re.search(rf"\b{name}\b", doc), f"Spec's docstring does not describe {name!r}"


def test_every_tolerance_is_a_named_one() -> None:
    named = {id(value) for value in vars(tolerances).values()}
    for spec in SPECS.values():
        for check in spec.checks:
            if check.tol is not None:
                assert id(check.tol) in named, f"{spec.name}.{check.name}: tolerance not from kit/tolerances.py"
        for gradient in spec.gradients:
            assert id(gradient.tol) in named, f"{spec.name} gradient {gradient.output}: unnamed tolerance"


def test_a_missing_spec_module_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "SPEC_MODULES", (*registry.SPEC_MODULES, "graders.specs.no_such_family"))
    registry.factories.cache_clear()
    try:
        with pytest.raises(ModuleNotFoundError, match="no_such_family"):
            registry.factories()
    finally:
        monkeypatch.undo()
        registry.factories.cache_clear()


# ---------------------------------------------------------------- notebook and property cases
@pytest.mark.parametrize("name", with_field("notebook"))
def test_notebook_cases_are_named(name: str) -> None:
    labels = [named.label for named in SPECS[name].notebook()]
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels), f"{name}: two notebook cases share a label: {labels}"


@pytest.mark.parametrize("name", [n for n in SPECS if n not in NEEDS_DATA])
def test_reference_gets_full_marks_through_the_program(name: str) -> None:
    spec = SPECS[name]
    cases = [*spec.fixed_cases(), *property_cases(spec, PROPERTY_CASES)]
    runs = [run_case(spec, case, reference_modules(name)) for case in cases]
    assert not failures(runs)


# ---------------------------------------------------------------- domain and reach
@pytest.mark.parametrize("name", with_field("domain"))
def test_every_case_is_in_the_domain(name: str) -> None:
    spec = SPECS[name]
    assert spec.domain is not None
    cases = [*spec.fixed_cases(), *spec.scale_cases(), *property_cases(spec, 30)]
    outside = [i for i, case in enumerate(cases) if not spec.domain(case)]
    assert not outside, f"{name}: cases {outside} are outside the declared domain"


@pytest.mark.parametrize("name,reach", [(n, r.name) for n in with_field("reaches") for r in SPECS[n].reaches])
def test_the_property_cases_reach(name: str, reach: str) -> None:
    spec = SPECS[name]
    holds = next(r.holds for r in spec.reaches if r.name == reach)
    found = find(spec.cases(), holds, settings=settings(max_examples=300, derandomize=True, database=None,
                                                        phases=[Phase.generate], deadline=None,
                                                        suppress_health_check=list(HealthCheck)))
    assert holds(found)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("name,index", [(n, i) for n in with_field("errors") for i in range(len(SPECS[n].errors))])
def test_the_reference_rejects(name: str, index: int) -> None:
    error = SPECS[name].errors[index]
    with pytest.raises(error.error, match=error.match):
        SPECS[name].expected(error.inputs)


# ---------------------------------------------------------------- diagnoses
def outputs_of(spec: Spec) -> set[str]:
    case = (spec.fixed_cases() or property_cases(spec, 1))[0]
    return set(spec.expected(case)) | {o for c in spec.checks for o in c.output_names}


@pytest.mark.parametrize("name", [n for n in SPECS if any(d.reads for d in SPECS[n].diagnoses)])
def test_diagnoses_read_outputs_the_spec_has(name: str) -> None:
    spec = SPECS[name]
    known = outputs_of(spec)
    for diagnosis in spec.diagnoses:
        unknown = set(diagnosis.reads) - known
        assert not unknown, f"{name}: diagnosis {diagnosis.name} reads {sorted(unknown)}, not outputs of the spec"


def judged(spec: Spec, case: Case, actual: dict[str, Any]) -> CaseRun:
    """A case run whose outputs are ``actual``, judged by the spec's checks against the reference."""
    expected = spec.expected(case)
    verdicts: dict[str, Verdict] = {}
    for check in spec.checks:
        if check.compare is not None:
            verdicts[check.name] = check.compare(case, actual, expected, check)
        else:
            results = [compare_arrays(o, actual.get(o), expected[o], check.atol, check.rtol)
                       for o in check.output_names]
            verdicts[check.name] = next((r for r in results if not r.passed), results[0])
    return CaseRun(case=case, actual=actual, expected=expected, verdicts=verdicts)


@pytest.mark.parametrize("name,diagnosis", [(n, d.name) for n in SPECS for d in SPECS[n].diagnoses
                                            if d.bug is not None])
def test_a_diagnosis_fires_on_its_bug_and_not_on_the_reference(name: str, diagnosis: str) -> None:
    spec = SPECS[name]
    known = next(d for d in spec.diagnoses if d.name == diagnosis)
    assert known.bug is not None
    cases = [*spec.fixed_cases(), *property_cases(spec, 10)]
    right = [judged(spec, case, dict(spec.expected(case))) for case in cases]
    assert not known.applies(right), f"{diagnosis} fires on the reference"
    buggy = [judged(spec, case, {**spec.expected(case), **known.bug(case)}) for case in cases]
    assert any(run.failed for run in buggy), f"the bug of {diagnosis} passes every check: it is no bug"
    assert known.applies(buggy), f"{diagnosis} does not fire on its own bug"


# ---------------------------------------------------------------- identity
@pytest.mark.parametrize("name", [n for n in SPECS if SPECS[n].depends_on or SPECS[n].builds_on or SPECS[n].same_as])
def test_the_specs_a_spec_names_exist(name: str) -> None:
    spec = SPECS[name]
    named = {*spec.depends_on, *spec.builds_on, *([spec.same_as] if spec.same_as else [])}
    assert named <= set(SPECS), f"{name} names specs that do not exist: {sorted(named - set(SPECS))}"
