"""summary.html: the class at a glance, rebuilt from the per-entry reports at the end of every batch.

What an instructor looks for after grading a class: how the totals are spread, which functions the class
found hard (score distribution, share of full marks, statuses), what went wrong most often (the most frequent
diagnoses, counted once per student), which submissions were slow (a student's loops, or a grader problem),
and which entries could not be read or graded at all. One self-contained file: inline CSS, histograms as PNG
data: URIs, links to each student's report.html next to it.

Diagnoses are grouped with their numbers masked (``off by a factor 3`` and ``off by a factor 5`` are the same
bug); the most common wording of a group is shown.
"""

from __future__ import annotations

import io
import re
import statistics
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
import numpy as np

from graders.batch.outcome import EntryOutcome
from graders.report.atomic import write_atomic
from graders.report.heatmap import png_data_uri
from graders.report.text import finalize_output

TOP_DIAGNOSES = 5
SLOWEST = 10
HISTOGRAM_BINS = 10
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Distribution:
    count: int
    mean: float
    median: float
    low: float
    high: float


@dataclass
class FunctionSummary:
    name: str
    max_score: float
    scores: list[float]
    statuses: Counter[str]
    diagnoses: list[tuple[str, int]]
    histogram: str = ""  # data: URI

    @property
    def distribution(self) -> Distribution | None:
        return describe(self.scores)

    def share(self, value: float) -> float:
        return sum(1 for s in self.scores if s == value) / len(self.scores) if self.scores else 0.0


@dataclass(frozen=True)
class SlowEntry:
    entry: str
    duration_s: float
    student_s: float
    score: float


@dataclass
class ClassSummary:
    assignment: str
    title: str
    max_score: float
    outcomes: Sequence[EntryOutcome]
    totals: list[float]
    total_histogram: str
    functions: list[FunctionSummary]
    slowest: list[SlowEntry]
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total_distribution(self) -> Distribution | None:
        return describe(self.totals)


def describe(values: Sequence[float]) -> Distribution | None:
    if not values:
        return None
    return Distribution(
        len(values), statistics.fmean(values), statistics.median(values), min(values), max(values)
    )


def diagnosis_key(text: str) -> str:
    """A diagnosis's first line with its numbers masked: the same bug in two students gives the same key."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _NUMBER.sub("#", " ".join(first.split()))


def frequent_diagnoses(per_student: Sequence[Sequence[str]], top: int = TOP_DIAGNOSES) -> list[tuple[str, int]]:
    """The ``top`` most frequent diagnoses (shown wording, number of students), ties broken by wording."""
    students: Counter[str] = Counter()
    wordings: dict[str, Counter[str]] = {}
    for diagnoses in per_student:
        keys = set()
        for text in diagnoses:
            key = diagnosis_key(text)
            if key:
                keys.add(key)
                wordings.setdefault(key, Counter())[text.strip().splitlines()[0]] += 1
        students.update(keys)
    ranked = sorted(students.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [(min(wordings[key].items(), key=lambda w: (-w[1], w[0]))[0], count) for key, count in ranked]


def histogram_png(values: Sequence[float], top: float, label: str) -> bytes:
    """A small bar chart of how many students got each score band in [0, top]."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    upper = top if top > 0 else 1.0
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=HISTOGRAM_BINS, range=(0.0, upper))
    with matplotlib.style.context("default"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figure = Figure(figsize=(3.4, 1.7), dpi=80)
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0.15, 0.27, 0.81, 0.67))  # fixed: tight_layout doubled the cost per plot
        axes.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#3b6ea8", edgecolor="white")
        axes.set_xlim(0.0, upper)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(labelsize=7)
        axes.set_xlabel(label, fontsize=7)
        axes.set_ylabel("students", fontsize=7)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    return buffer.getvalue()


def summarise(assignment: str, title: str, function_max: dict[str, float], max_score: float,
              outcomes: Sequence[EntryOutcome], plots: bool = True) -> ClassSummary:
    """Class statistics from the outcomes (reports of graded entries; failures listed apart)."""
    reports = [o.report for o in outcomes if o.report is not None]
    functions = []
    for name, top in function_max.items():
        entries = [f for r in reports for f in r.get("functions", []) if f.get("name") == name]
        scores = [float(f.get("score", 0.0)) for f in entries]
        summary = FunctionSummary(
            name,
            top,
            scores,
            Counter(str(f.get("status", "?")) for f in entries),
            # a missing function's diagnosis says where the grader looked, not what the bug is
            frequent_diagnoses([list(f.get("diagnosis", [])) for f in entries if f.get("status") != "missing"]),
        )
        if plots and scores:
            summary.histogram = png_data_uri(histogram_png(scores, top, f"{name} (points)"))
        functions.append(summary)
    totals = [float(r.get("score", 0.0)) for r in reports]
    graded = [(o, o.report) for o in outcomes if o.status == "graded" and o.report is not None]
    slowest = [
        SlowEntry(
            outcome.entry,
            float(report.get("duration_s", 0.0)),
            sum(float(f.get("student_s", 0.0)) for f in report.get("functions", [])),
            float(report.get("score", 0.0)),
        )
        for outcome, report in graded
    ]
    slowest.sort(key=lambda row: (-row.duration_s, row.entry))
    return ClassSummary(
        assignment,
        title,
        max_score,
        outcomes,
        totals,
        png_data_uri(histogram_png(totals, max_score, "total (points)")) if plots and totals else "",
        functions,
        slowest[:SLOWEST],
        Counter(o.status for o in outcomes),
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("graders.batch", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize_output,
    )


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def render_summary(summary: ClassSummary) -> str:
    return _environment().get_template("summary.html.j2").render(s=summary, points=_points)


def write_summary(path: Path, summary: ClassSummary) -> None:
    write_atomic(path, render_summary(summary).encode("utf-8"))
