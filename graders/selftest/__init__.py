"""The grader's accuracy, measured by the project itself (``nngrade selftest``).

A catalogue of small, realistic edits of correct submissions (``catalogue/<assignment>.toml``): *mutants*
(one real student bug each, and the function that must lose points for it) and *equivalents* (correct code
written differently, which must keep full marks). The selftest grades every entry and reports how many bugs
were caught at the right function, caught only elsewhere or missed, how many correct variants lost points,
and whether the diagnosis named the bug.

Modules: ``patch`` (exact-snippet edits, shared with the derived example submissions), ``catalogue``
(loading and validating entries), ``affected`` (which graded functions an edit can reach), ``run`` (grading
the entries in parallel), ``score`` (outcomes, summary, thresholds) and ``table`` (the printed table).
"""
