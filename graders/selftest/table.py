"""The selftest's printed table: one line per entry, then the summary against the thresholds.

The entry table keeps to what fits a terminal: the entry, its target, the outcome and a note (where else
points were lost, whether the diagnosis named the bug, or what went wrong). The bug pattern is added as a
column when the console is wide enough; ``--json`` has everything.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graders.selftest.score import (
    BROKEN,
    CAUGHT,
    ELSEWHERE,
    FALSE_FAILURE,
    KEPT,
    MISSED,
    THRESHOLDS,
    Row,
    Summary,
)

STYLE = {
    CAUGHT: "green",
    KEPT: "green",
    ELSEWHERE: "yellow",
    MISSED: "red",
    FALSE_FAILURE: "red",
    BROKEN: "red",
}
#: Thresholds that are shares of the catalogue (printed as percentages).
SHARES = ("caught_at_right_function", "mutation_score", "diagnosis_named")
#: Console width from which the pattern column is shown.
WIDE = 150


def note(row: Row) -> str:
    """Where else points were lost, and the diagnosis verdict (or the error's last line)."""
    if row.result.error:
        return f"[red]{escape(row.result.error.strip().splitlines()[-1][:100])}[/red]"
    parts = []
    others = sorted(n for n in row.result.lost if n != row.target)
    if others and row.outcome in (ELSEWHERE, FALSE_FAILURE):
        parts.append("lost points in " + escape(", ".join(others)))
    elif others:
        parts.append(f"also {len(others)} caller(s)")
    if row.named is True:
        parts.append("[green]diagnosis named[/green]")
    elif row.named is False:
        said = " ".join(row.result.diagnoses.get(row.target, ())) or "nothing"
        parts.append(f"[red]diagnosis missed[/red]: said {escape(said[:90])}")
    return "; ".join(parts)


def entries_table(summary: Summary, wide: bool = False) -> Table:
    table = Table(title=f"selftest {summary.assignment}: entries")
    columns = ["entry", "kind", "target", "outcome", "note"]
    if wide:
        columns.insert(3, "pattern")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in summary.rows:
        style = STYLE.get(row.outcome, "")
        # ids, patterns and messages are text, never markup (`bn_param[mode]`, a student's error message)
        cells = [escape(row.id), row.kind, escape(row.target), f"[{style}]{row.outcome}[/{style}]", note(row)]
        if wide:
            cells.insert(3, escape(row.pattern))
        table.add_row(*cells)
    return table


def _limit(name: str, limits: Mapping[str, float]) -> str:
    if name not in limits:
        return ""
    bound = ">=" if THRESHOLDS[name][0] == "min" else "<="
    value = limits[name]
    shown = f"{value:.0%}" if name in SHARES else f"{value:g}"
    return f"{bound} {shown}"


def summary_table(summary: Summary, limits: Mapping[str, float], seconds: float | None = None) -> Table:
    title = f"selftest {summary.assignment}: summary" + (f" ({seconds:.0f} s)" if seconds is not None else "")
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("threshold", justify="right")
    share = summary.caught_at_right_function
    lines = [
        ("mutants", f"{summary.mutants}", "min_mutants"),
        ("  caught at the right function", f"{summary.caught} ({share:.0%})", "caught_at_right_function"),
        ("  caught only elsewhere", f"{summary.elsewhere}", ""),
        ("  missed", f"{summary.missed}", ""),
        ("  mutation score (caught anywhere)", f"{summary.mutation_score:.0%}", "mutation_score"),
        (
            "  diagnosis named correctly",
            f"{summary.diagnosis_named}/{summary.diagnosis_checked}",
            "diagnosis_named",
        ),
        ("equivalents", f"{summary.equivalents}", "min_equivalents"),
        ("false failures (equivalents and bases)", f"{summary.false_failures}", "false_failures"),
        ("broken entries", f"{summary.broken}", ""),
    ]
    for label, value, threshold in lines:
        table.add_row(label, value, _limit(threshold, limits))
    return table


def print_summary(
    summary: Summary, limits: Mapping[str, float], console: Console, seconds: float | None = None
) -> None:
    console.print(entries_table(summary, wide=console.width >= WIDE))
    console.print(summary_table(summary, limits, seconds))
