"""The mutation catalogues are well-formed claims, checked without grading anything.

* every entry's snippets still match its base exactly once, and the edit changes code (not only comments);
* the edit reaches the entry's target (so "the function that must lose points" is one the edit can change);
* the catalogues are as large as the issue asks (40 mutants, 12 equivalents over both assignments);
* every bug pattern the grader claims to know (each Diagnosis of a graded spec) is claimed by some mutant
  whose diagnosis words come from that Diagnosis's sentence -- so the selftest checks that the claim holds.
"""

from __future__ import annotations

import pytest
import tomllib

from graders import assignment as assignments
from graders.selftest import catalogue as catalogues
from graders.selftest.affected import affected_functions, changed_units

CATALOGUES = catalogues.available()


def load(name: str) -> tuple[assignments.Assignment, catalogues.Catalogue]:
    assignment = assignments.load(name)
    return assignment, catalogues.load(name, {g.spec.name for g in assignment.functions})


def entry_ids(name: str) -> list[str]:
    return [e.id for e in load(name)[1].entries]


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_entry_applies_changes_code_and_reaches_its_target(name: str) -> None:
    assignment, catalogue = load(name)
    problems = []
    for entry in catalogue.entries:
        before = catalogues.base_tree(entry.base)
        after = entry.tree()
        if not changed_units(before, after):
            problems.append(f"{entry.id}: the edit changes no code (comments or formatting only)")
        elif entry.target not in affected_functions(assignment, before, after):
            problems.append(f"{entry.id}: the edit cannot reach its target {entry.target}")
        if not entry.pattern.strip():
            problems.append(f"{entry.id}: no pattern label")
    assert not problems, "\n".join(problems)


def test_catalogues_are_as_large_as_the_issue_asks() -> None:
    entries = [e for name in CATALOGUES for e in load(name)[1].entries]
    mutants = [e for e in entries if e.is_mutant]
    assert len(mutants) >= 40, len(mutants)
    assert len(entries) - len(mutants) >= 12, len(entries) - len(mutants)
    assert "cs231n-a2" in CATALOGUES


def claimed_by_parent(assignment: assignments.Assignment) -> set[str]:
    """A year variant's functions graded as its parent grades them (same spec, same options), where the parent
    has a catalogue: their bug patterns are exercised there, so the variant's catalogue need not repeat them."""
    parent_name = tomllib.loads((assignments.ASSIGNMENTS_DIR / f"{assignment.name}.toml").read_text()).get("extends")
    if parent_name is None or parent_name not in CATALOGUES:
        return set()
    parent = assignments.load(parent_name)
    ours, theirs = assignment.data.get("options", {}), parent.data.get("options", {})
    return {g.spec.name for g in parent.functions if g.spec.name in {f.spec.name for f in assignment.functions}
            and ours.get(g.spec.name) == theirs.get(g.spec.name)}


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_known_bug_pattern_is_claimed_by_a_catalogue_entry(name: str) -> None:
    """A mutant, or (for a pattern outside the hand-out's domain, such as an overflow at huge scores) an
    equivalent that may lose the robustness check and must name the pattern."""
    assignment, catalogue = load(name)
    specs = {g.spec.name: g.spec for g in assignment.functions}
    claimed: set[str] = set()
    for entry in catalogue.entries:
        words = [w.lower() for w in entry.diagnosis]
        if not words:
            continue
        for known in specs[entry.target].diagnoses:
            if all(w in known.sentence.lower() for w in words):
                claimed.add(known.name)
    inherited = claimed_by_parent(assignment)
    known_names = {d.name for name, spec in specs.items() if name not in inherited for d in spec.diagnoses}
    unclaimed = sorted(known_names - claimed)
    assert not unclaimed, f"{name}: known bug patterns no catalogue entry exercises: {unclaimed}"
