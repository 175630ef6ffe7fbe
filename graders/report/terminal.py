"""The score table printed by ``nngrade grade`` at the end of a run.

WHY ``Text`` objects for every cell: rich parses plain strings as console markup, so a function or
status name such as ``[red]`` or ``[link=...]`` coming from a report would be interpreted. ``Text`` is
shown verbatim.

Module-level problems (a module that did not import or was not found) are printed once above the table, the
student's traceback indented as it is (monospace on any terminal), so the first thing read is what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from graders.report.text import format_number, format_seconds
from graders.report.view import ReportView, build_view

#: Width of plain (non-terminal) output: wide enough that no table cell is folded inside a name.
PLAIN_WIDTH = 200


def output_console(stderr: bool = False) -> Console:
    """A console for the CLI's output: the terminal's width on a terminal; on a pipe or file, wide enough that
    tables never wrap inside an identifier (rich would fold at 80 columns)."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=PLAIN_WIDTH)


STATUS_STYLES: dict[str, str] = {
    "passed": "bold green",
    "partial": "bold yellow",
    "failed": "bold red",
    "missing": "magenta",
    "error": "bold red",
    "timeout": "bold red",
    "crashed": "bold red",
    "forbidden": "bold red",
    "environment": "bold magenta",
}


def score_table(report: Mapping[str, Any]) -> Table:
    """A rich Table of function, status, score, max, time, with a total row."""
    view = build_view(report)
    table = Table(title=Text(f"nngrade: {view.assignment}"), title_justify="left")
    table.add_column("function")
    table.add_column("status")
    table.add_column("score", justify="right")
    table.add_column("max", justify="right")
    table.add_column("time", justify="right")
    for function in view.functions:
        table.add_row(
            Text(function.name),
            Text(function.status, style=STATUS_STYLES.get(function.status, "")),
            Text(format_number(function.score)),
            Text(format_number(function.max_score)),
            Text(format_seconds(function.duration_s)),
        )
    table.add_section()
    table.add_row(
        Text("total", style="bold"),
        Text(f"{view.count('passed')} of {len(view.functions)} passed"),
        Text(format_number(view.score), style="bold"),
        Text(format_number(view.max_score), style="bold"),
        Text(format_seconds(view.duration_s)),
    )
    return table


def problems_text(view: ReportView) -> Text | None:
    """The report's module-level problems as text (None when there are none)."""
    if not view.problems:
        return None
    text = Text("Problems:\n", style="bold red")
    for problem in view.problems:
        text.append(f"  {problem.sentence}\n")
        if problem.traceback and not problem.caused_by:
            text.append("".join(f"    {line}\n" for line in problem.traceback.splitlines()))
    return text


def render_terminal_table(report: Mapping[str, Any], console: Console | None = None) -> None:
    """Print the module-level problems, if any, then :func:`score_table` to ``console`` (a new stdout
    console when None). On a non-terminal console rich prints the same as plain text without colours."""
    console = console if console is not None else output_console()
    problems = problems_text(build_view(report))
    if problems is not None:
        console.print(problems, soft_wrap=True)
    console.print(score_table(report))
