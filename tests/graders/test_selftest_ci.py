"""CI runs the selftest: every assignment's whole mutation catalogue, graded as ``nngrade selftest`` does.

What must hold (the thresholds in each assignment file's [selftest] table): every mutant caught at the
function it breaks, no correct variant (or base) losing a point, every claimed diagnosis named. And the
catalogue must record every claim the grader makes: a mutant whose target's diagnosis includes one of the
spec's known-pattern sentences has to say which words it expects, so the claim is checked from then on.
"""

from __future__ import annotations

import pytest

from graders import assignment as assignments
from graders.selftest import catalogue as catalogues
from graders.selftest.score import problems_by_row
from graders.selftest.suite import run_selftest


def describe(rows: list) -> str:  # type: ignore[type-arg]
    lines = []
    for row in rows:
        result = row.result
        detail = (
            result.error.strip().splitlines()[-1] if result.error else f"lost points in {sorted(result.lost)}"
        )
        said = result.diagnoses.get(row.target, ())
        lines.append(f"{row.id} ({row.kind}, {row.target}): {row.outcome}; {detail}; diagnosis {list(said)}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", catalogues.available())
def test_selftest_meets_the_assignments_thresholds(name: str) -> None:
    outcome = run_selftest(name, seed=0, profile="standard")
    summary = outcome.summary
    assert outcome.limits, f"{name} has no [selftest] thresholds"
    assert outcome.ok, "\n".join(outcome.problems) + "\n" + describe(problems_by_row(summary.rows))

    specs = {g.spec.name: g.spec for g in assignments.load(name).functions}
    entries = {e.id: e for e in catalogues.load(name).entries}
    unrecorded = []
    for row in summary.rows:
        entry = entries.get(row.id)
        if entry is None or not entry.is_mutant or entry.diagnosis:
            continue
        said = row.result.diagnoses.get(entry.target, ())
        known = [d.name for d in specs[entry.target].diagnoses if d.sentence in said]
        if known:
            unrecorded.append(f"{entry.id}: the grader names {known}; add diagnosis words to the entry")
    assert not unrecorded, "\n".join(unrecorded)
