"""Cases of a spec for in-process tests: drawn reproducibly, by tier (one helper for every spec test file)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, Phase, given, settings

from graders.specs.base import Case, Spec


def property_cases(spec: Spec, count: int) -> list[Case]:
    """``count`` property cases of ``spec``, the same ones on every run (derandomized, no database)."""
    found: list[Case] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(spec.cases())
    def collect(case: Case) -> None:
        found.append(copy.deepcopy(case))

    collect()
    return found


def main_cases(spec: Spec, count: int, scale: bool = True) -> list[Case]:
    """What decides the main checks: the fixed cases, ``count`` property cases and (``scale``) the scale cases."""
    return [*spec.fixed_cases(), *property_cases(spec, count), *(spec.scale_cases() if scale else [])]


def robustness_cases(spec: Spec) -> list[Case]:
    """Every case of the spec's robustness checks that have cases of their own."""
    return [case for check in spec.robustness if check.cases is not None for case in check.cases()]
