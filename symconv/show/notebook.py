"""How answers and reports show themselves in a notebook: an HTML table, and LaTeX where it fits.

Each function here is registered (``symconv.display.renders``) as the HTML or LaTeX rendering of
one result type, whose ``_repr_html_`` and ``_repr_latex_`` call it (``display.Rendered``); they
take the result objects and return strings, so they are as easy to test as text.
Every rendering is bounded: an answer shows its closed form first, then at most ``SHOWN_TERMS``
products and the count; a report shows at most ``SHOWN_ROWS`` rows per table.  Formulas are
LaTeX between ``$...$`` (MathJax typesets them in Jupyter's HTML and LaTeX outputs alike).
Nothing here imports SymPy's printers for a term list: products are written from the integer
term lists (``symconv.term_text``).
"""

from __future__ import annotations

import html

from ..checks.explanation import Explanation
from ..checks.reports import CheckReport, InferReport
from ..display import renders
from ..model.conventions import DEFAULT
from ..symbolic import term_text
from ..symbolic.answers import Answer, TensorAnswer
from ..symbolic.reverse import Readers

SHOWN_TERMS = 6
SHOWN_ROWS = 40
STYLE = "border-collapse:collapse;text-align:left"


def _escape(text) -> str:
    return html.escape(str(text), quote=False)


def _table(rows, caption: str | None = None, header: list | None = None) -> str:
    """An HTML table: ``rows`` of cells (already HTML), optional caption and header cells."""
    parts = [f'<table class="symconv" style="{STYLE}">']
    if caption:
        parts.append(f"<caption style=\"text-align:left\">{caption}</caption>")
    if header:
        parts.append("<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>")
    for row in rows:
        first, *rest = row
        parts.append(f"<tr><th>{first}</th>" + "".join(f"<td>{cell}</td>" for cell in rest) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def _pre(lines) -> str:
    return "<pre>" + _escape("\n".join(lines)) + "</pre>"


def _spec_caption(spec) -> str:
    from ..model.notation import spec_header
    return _escape(spec_header(spec)).replace("\n", "<br>")


def entry_latex(name: str, index) -> str:
    """``{dk}_{0,0,1,5}``: an entry as SymPy's LaTeX names it."""
    return f"{{{name}}}_{{{','.join(map(str, index))}}}"


# ---- which: one entry, every entry, the reverse question --------------------------------------

def answer_math(answer, shown: int = SHOWN_TERMS) -> str:
    """``lhs = closed form = first products + ... (count)`` as LaTeX (no dollars)."""
    import sympy
    lhs = entry_latex(answer.tensor, answer.index)
    closed = sympy.latex(answer.closed_form, order="none")
    if not answer.listed:
        return f"{lhs} = {closed} \\quad \\text{{({answer.term_count:,} terms)}}"
    products = term_text.latex(answer.terms, shown)
    return f"{lhs} = {closed} = {products}" if answer.summed else f"{lhs} = {products}"


def answer_latex(answer) -> str:
    return f"$\\displaystyle {answer_math(answer)}$"


def answer_html(answer) -> str:
    import sympy
    rows = [("entry", _escape(answer.entry)),
            ("closed form", f"${sympy.latex(answer.closed_form, order='none')}$"),
            ("products", f"{answer.term_count:,}")]
    if answer.listed and len(answer.terms):
        rows.append(("first products" if len(answer.terms) > SHOWN_TERMS else "products",
                     f"${term_text.latex(answer.terms, SHOWN_TERMS)}$"))
        tensor, column = answer.drawn()
        from ..model.notation import grid
        drawn = grid(answer.spec, tensor, column)
        if drawn:
            rows.append((f"{tensor} entries used (#)", _pre(drawn)))
    return _table(rows, _spec_caption(answer.spec))


def tensor_latex(tensor_answer, shown: int = SHOWN_ROWS) -> str:
    answers = tensor_answer.answers
    rows = [answer_math(a, 3).replace(" = ", " &= ", 1) for a in answers[:shown]]
    if len(answers) > shown:
        rows.append(f"&\\text{{... {len(answers) - shown} more entries ({len(answers)} in all)}}")
    return "$\\begin{aligned} " + " \\\\ ".join(rows) + " \\end{aligned}$"


def tensor_html(tensor_answer, shown: int = SHOWN_ROWS) -> str:
    import sympy
    answers = tensor_answer.answers
    rows = []
    for a in answers[:shown]:
        first = f"${term_text.latex(a.terms, 3)}$" if a.listed else ""
        rows.append((_escape(a.entry), f"${sympy.latex(a.closed_form, order='none')}$", f"{a.term_count:,}", first))
    if len(answers) > shown:
        rows.append(("...", f"{len(answers) - shown} more entries ({len(answers)} in all)", "", ""))
    return _table(rows, _spec_caption(tensor_answer.spec), ["entry", "closed form", "products", "first products"])


def readers_latex(readers) -> str:
    rows = []
    for feed in readers.feeds:
        pairs = feed.listed(SHOWN_TERMS) or []
        listed = ", ".join(f"{entry_latex(feed.tensor, f)}" for f, _ in pairs)
        more = ", \\dots" if feed.count > len(pairs) else ""
        rows.append(f"&\\text{{{feed.count:,} entries of {feed.tensor}:}} && {listed}{more}")
    head = f"\\text{{{readers.entry} feeds}}"
    return "$\\begin{aligned} " + head + " \\\\ " + " \\\\ ".join(rows) + " \\end{aligned}$"


def readers_html(readers) -> str:
    rows = []
    for feed in readers.feeds:
        pairs = feed.listed(SHOWN_TERMS)
        listed = "" if pairs is None else ", ".join(
            f"{f_text} ({feed.link} {p_text})" for f_text, p_text in
            ((f"{feed.tensor}[{','.join(map(str, f))}]", f"{feed.partner}[{','.join(map(str, p))}]") for f, p in pairs))
        if pairs is not None and feed.count > len(pairs):
            listed += ", ..."
        rows.append((_escape(feed.tensor), f"{feed.count:,}", _escape(feed.closed_text), _escape(listed)))
    caption = _spec_caption(readers.spec) + f"<br>{_escape(readers.entry)} feeds (the terms of {readers.dual.entry}):"
    return _table(rows, caption, ["tensor", "entries", "which", "first entries"])


# ---- reports: check, infer, explain ------------------------------------------------------------

def check_html(report, shown: int = SHOWN_ROWS) -> str:
    rows = []
    for result in report.results:
        details = [_escape(result.message)]
        lines = result._diagnosis_lines()
        if result.evidence and result.mismatches:
            lines.append(f"{result.evidence}:")
        lines += [m.sentence() for m in result.mismatches[:SHOWN_TERMS]]
        if len(result.mismatches) > SHOWN_TERMS:
            lines.append(f"... {len(result.mismatches) - SHOWN_TERMS} more listed, {result.mismatch_count} differ in all")
        if result.pads_line:
            lines.append(result.pads_line)
        if lines:
            details.append(_pre(lines))
        rows.append((_escape(result.quantity), f"<b>{_escape(result.status)}</b>", _escape(result.path),
                     "".join(details)))
    caption = _spec_caption(report.spec) + f"<br>backend {_escape(report.backend)}: <b>{_escape(report.status)}</b>"
    return _table(rows[:shown], caption, ["quantity", "status", "path", "what was found"])


def infer_html(report) -> str:
    rows = []
    for name, q in report.quantities.items():
        pads = "unknown" if q.pads is None else ",".join("?" if p is None else f"{p[0]}:{p[1]}" for p in q.pads)
        rows.append((_escape(name), _escape(q.status), _escape(pads), _escape(", ".join(q.conventions) or "none"),
                     _escape(q.path), _escape("; ".join(q.notes))))
    caption = _spec_caption(report.spec) + "<br><b>" + _escape(report.summary()) + "</b>"
    if report.expect is not None:
        caption += "<br><b>" + _escape(report.expectation()) + "</b>"
    return _table(rows, caption, ["quantity", "status", "pads", "conventions", "path", "notes"])


def _row_math(spec, quantity, row) -> str:
    """One explained entry as LaTeX: 'formula = value', from the integer term list."""
    from ..model.indexmap import maps_for
    _, index = _entry_of(spec, row)
    terms = maps_for(spec).terms(quantity, index)
    if not len(terms):
        return "0"
    return f"{term_text.latex(terms, SHOWN_TERMS)} = {row['value']}"


def explanation_latex(story, shown: int = SHOWN_ROWS) -> str:
    """Every entry explained, under the spec's convention (and the default convention's beside it), as LaTeX rows."""
    rows = []
    side = story.default_reading is not None and story.default_reading.spec.y_shape == story.spec.y_shape
    for quantity, section in story.sections.items():
        for i, row in enumerate(section[:shown]):
            _, index = _entry_of(story.spec, row)
            line = f"{entry_latex(row['entry'].split('[')[0], index)} &= {_row_math(story.spec, quantity, row)}"
            if side:
                default_row = story.default_reading.sections[quantity][i]
                line += f" && \\text{{{DEFAULT}: }} {_row_math(story.default_reading.spec, quantity, default_row)}"
            rows.append(line)
        if len(section) > shown:
            rows.append(f"&\\text{{... {len(section) - shown} more entries}}")
    return "$\\begin{aligned} " + " \\\\ ".join(rows) + " \\end{aligned}$"


def _entry_of(spec, row):
    from ..model.spec import parse_entry
    return parse_entry(spec, row["entry"])


def explanation_html(story, shown: int = SHOWN_ROWS) -> str:
    side = story.default_reading is not None and story.default_reading.spec.y_shape == story.spec.y_shape
    header = ["entry", f"under {story.spec.convention}"] + ([f"under {DEFAULT} (TensorFlow today)"] if side else [])
    header += ["backend"] if story.backend_rows else []
    rows = []
    for quantity, section in story.sections.items():
        for i, row in enumerate(section[:shown]):
            cells = [_escape(row["entry"]), f"${_row_math(story.spec, quantity, row)}$"]
            if side:
                cells.append(f"${_row_math(story.default_reading.spec, quantity, story.default_reading.sections[quantity][i])}$")
            for _, seen, agrees in story.backend_rows.get(quantity, [])[:1]:
                cells.append(_escape(seen[i]) + ("" if agrees[i] else " <b>DIFFERS</b>"))
            if story.backend_rows and quantity not in story.backend_rows:
                cells.append("")
            rows.append(cells)
        if len(section) > shown:
            rows.append(["...", f"{len(section) - shown} more entries"] + [""] * (len(header) - 2))
    caption = _spec_caption(story.spec)
    return _table(rows, caption, header)


renders("latex", Answer)(answer_latex)
renders("html", Answer)(answer_html)
renders("latex", TensorAnswer)(tensor_latex)
renders("html", TensorAnswer)(tensor_html)
renders("latex", Readers)(readers_latex)
renders("html", Readers)(readers_html)
renders("html", CheckReport)(check_html)
renders("html", InferReport)(infer_html)
renders("latex", Explanation)(explanation_latex)
renders("html", Explanation)(explanation_html)
