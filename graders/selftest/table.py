"""The selftest's printed table: one line per entry, then the summary against the thresholds."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from graders.selftest.score import BROKEN, CAUGHT, ELSEWHERE, FALSE_FAILURE, KEPT, MISSED, THRESHOLDS, Row, Summary

STYLE = {CAUGHT: "green", KEPT: "green", ELSEWHERE: "yellow", MISSED: "red", FALSE_FAILURE: "red", BROKEN: "red"}


def _where(row: Row) -> str:
    """Which functions lost points (the target's first), or the error's last line."""
    if row.result.error:
        return row.result.error.strip().splitlines()[-1][:80]
    names = sorted(row.result.lost, key=lambda n: (n != row.target, n))
    return ", ".join(names)


def _named(row: Row) -> str:
    if row.named is None:
        return ""
    if row.named:
        return "[green]yes[/green]"
    said = " ".join(row.result.diagnoses.get(row.target, ())) or "nothing"
    return f"[red]no[/red]: {said[:70]}"


def entries_table(summary: Summary) -> Table:
    table = Table(title=f"selftest {summary.assignment}: entries", show_lines=False)
    for column in ("entry", "kind", "target", "pattern", "outcome", "lost points in", "diagnosis named"):
        table.add_column(column, overflow="fold")
    for row in summary.rows:
        style = STYLE.get(row.outcome, "")
        table.add_row(
            row.id,
            row.kind,
            row.target,
            row.pattern,
            f"[{style}]{row.outcome}[/{style}]",
            _where(row),
            _named(row),
        )
    return table


def summary_table(summary: Summary, limits: Mapping[str, float], seconds: float | None = None) -> Table:
    title = f"selftest {summary.assignment}: summary" + (f" ({seconds:.0f} s)" if seconds is not None else "")
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right")
    mutants = summary.mutants or 1
    lines = [
        ("mutants", f"{summary.mutants}", "min_mutants"),
        ("  caught at the right function", f"{summary.caught} ({summary.caught / mutants:.0%})",
         "caught_at_right_function"),
        ("  caught only elsewhere", f"{summary.elsewhere}", None),
        ("  missed", f"{summary.missed}", None),
        ("  mutation score (caught anywhere)", f"{summary.mutation_score:.0%}", "mutation_score"),
        ("  diagnosis named correctly", f"{summary.diagnosis_named}/{summary.diagnosis_checked}", "diagnosis_named"),
        ("equivalents", f"{summary.equivalents}", "min_equivalents"),
        ("false failures (equivalents and bases)", f"{summary.false_failures}", "false_failures"),
        ("broken entries", f"{summary.broken}", None),
    ]
    for label, value, threshold in lines:
        limit = ""
        if threshold is not None and threshold in limits:
            bound = ">=" if THRESHOLDS[threshold][0] == "min" else "<="
            number = limits[threshold]
            limit = f"{bound} {number:.0%}" if 0 < number <= 1 and threshold not in ("false_failures",) and \
                not threshold.startswith("min_") else f"{bound} {number:g}"
        table.add_row(label, value, limit)
    return table


def print_summary(
    summary: Summary, limits: Mapping[str, float], console: Console, seconds: float | None = None
) -> None:
    console.print(entries_table(summary))
    console.print(summary_table(summary, limits, seconds))
