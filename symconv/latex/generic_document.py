"""The generic document: the gradients of a convolution derived for symbolic sizes, the input
gradient as a transposed convolution, and the list of what is proven and what is only
checked (the LaTeX rendering of ``symconv.proof.facts``)."""

from __future__ import annotations

import sympy

from .. import proof
from ..display import renders
from ..proof import Check, Counterexample, Fact, Report
from ..proof.claims_check import VALUES_FROM
from ..show.proof_text import report_summary
from .document import Document
from .printing import display, entry_tex, expr_tex, lhs_tex, term_pieces, terms_pieces, tex_escape
from .spec_document import _derivation_displays, _size_map

STATUS_TEX = {"proven": "proven for all sizes", "checked": "checked only, no proof", "failed": "FAILED"}


@renders("latex", Counterexample)
def counterexample_latex(bad: Counterexample) -> str:
    """A counterexample in a document's text: sizes, entry, the claimed and the actual products."""
    j = bad.to_json()
    products = lambda terms: ", ".join(f"\\texttt{{{tex_escape(t)}}}" for t in terms[:8]) or "none"
    sizes = ", ".join(f"{k}={v}" for k, v in bad.sizes.items())
    return (f"At {tex_escape(sizes)} ({tex_escape(bad.spec)}), entry \\texttt{{{tex_escape(bad.entry)}}}: "
            f"claimed {products(j['claimed']['terms'])} ($= {j['claimed']['value']}$), actual "
            f"{products(j['actual']['terms'])} ($= {j['actual']['value']}$), {tex_escape(VALUES_FROM)}.")


@renders("latex", Check)
def check_latex(check: Check) -> str:
    verdict = "all agree" if check.ok else "FAILED" + (
        f": {counterexample_latex(check.counterexample)}" if check.counterexample is not None else
        f": {tex_escape(check.detail)}" if check.detail else "")
    return f"checked: {tex_escape(check.scope)} ({check.cases} cases): {verdict}"


@renders("latex", Fact)
def fact_latex(fact: Fact) -> str:
    """One fact as a list item: status, statement, the lemmas it assumes and its checks."""
    status = STATUS_TEX[fact.status] + (", assuming a stated lemma" if fact.assumptions and fact.proven else "")
    lines = [f"  \\item assuming: {tex_escape(lemma)}" for lemma in fact.assumptions]
    lines += [f"  \\item {check_latex(c)}" for c in fact.checks]
    return (f"\\item \\texttt{{{tex_escape(fact.key)}}} --- \\textbf{{{status}}}. {tex_escape(fact.statement)}."
            "\n\\begin{itemize}\n" + "\n".join(lines) + "\n\\end{itemize}")


@renders("latex", Report)
def report_latex(report: Report) -> str:
    return "\\begin{itemize}\n" + "\n".join(fact_latex(f) for f in report.facts) + "\n\\end{itemize}"


def generic_document(report=None, ndim: int = 2) -> str:
    """The derivation of dk and dx for symbolic sizes, the transposed-convolution reading, the SAME
    facts, and the table of what is proven for all sizes and what is only checked."""
    return build_generic_document(report, ndim).render()


def build_generic_document(report=None, ndim: int = 2) -> Document:
    """The checked Document behind ``generic_document``."""
    geometry = proof.symbolic_geometry("conv", ndim, True, True)
    result = proof.derive(geometry)
    doc = Document(f"Derivation: the gradients of a {ndim}-D convolution, for all sizes")
    doc.section("Setting")
    doc.text("Sizes are symbols: batch $N$, channels $C_{i}$ in and $C_{o}$ out; per spatial axis the input "
             "size, kernel size $K$, stride $s$, dilation $d$, padding before $p$ (any integer; negative "
             "crops) and output size $O$. Every index is an integer. $x$ is zero outside its shape; a bracket "
             "$[\\cdot]$ is 1 when its condition holds, else 0; $\\delta_{u,v}$ is 1 if $u = v$, else 0.")
    doc.text(_tensor_table_symbolic(geometry))
    y_entry, definition = geometry.definition()
    doc.section("The forward sum (definition)")
    doc.math(display(entry_tex(y_entry), [term_pieces(definition)]), None)
    for quantity, tensor in (("filter_grad", "k"), ("input_grad", "x")):
        doc.section(f"The gradient with respect to ${tensor}$")
        _derivation_displays(doc, result.derivations[quantity])
    doc.text("Every step acts on one spatial axis at a time (a bracket, a delta, a range of one axis), so the "
             "same chain on one axis, repeated on every axis, gives these closed forms for any number of axes; "
             "for 1, 2 and 3 axes the composed forms were compared with the direct derivation.")
    doc.section("The input gradient is a transposed convolution")
    deriv, _, _, pads = proof.transposed_form(ndim, True)
    pretty = _claims_to_pretty(geometry)
    doc.text("Let $\\tilde g$ be $g$ dilated by the stride ($s-1$ zeros between entries) and padded by "
             "$d(K-1) - p$ before and $\\mathit{in} - 1 + p - s(O-1)$ after (negative amounts crop), and "
             "$\\tilde k_{a',c_o,c_i} = k_{K-1-a',c_i,c_o}$ the kernel flipped on every spatial axis with its "
             "channel axes swapped. Then $dx$ is the stride-1 convolution of $\\tilde g$ with $\\tilde k$ at "
             "dilation $d$. With $\\tilde g$ written as $\\sum_o \\delta\\, g$:")
    for step in deriv.steps:
        doc.text(f"\\emph{{{tex_escape(step.title)}}} ({tex_escape(step.rule)}): {tex_escape(step.checked)}.")
        doc.math(display(lhs_tex(step.lhs), [terms_pieces(tuple(t.xreplace(pretty) for t in step.terms))]),
                 None if step.rule == "definition" else step.checked)
    doc.text("The last line is the closed form of $dx$ above (their normal forms match, checked by SymPy). "
             "The padded, dilated $\\tilde g$ has $d(K-1) - p + s(O-1) + 1 + \\mathit{in} - 1 + p - s(O-1) = "
             "\\mathit{in} + d(K-1)$ entries, so a stride-1 window of $d(K-1)+1$ gives exactly $\\mathit{in}$ "
             "outputs.")
    if report is None:
        report = proof.facts()
    doc.section("Proven for all sizes, or checked up to a bound")
    doc.text("A proof covers every size; a lemma a proof assumes is named with it; a check covers exactly the "
             "sizes it names and nothing more.")
    doc.text(report_latex(report))
    doc.checks.append("facts: each proof checked by SymPy, each bounded check run against the index maps")
    for fact in report.facts:
        if not fact.derivations:
            doc.text(f"\\emph{{Proof of \\texttt{{{tex_escape(fact.key)}}}:}} " +
                     " ".join(tex_escape(line) + "." for line in fact.proof))
    doc.text(tex_escape(report_summary(report)) + ".")
    return doc


def _tensor_table_symbolic(geometry) -> str:
    rows = []
    meaning = {"x": "input", "k": "kernel (TensorFlow layout)", "y": "output", "g": "upstream gradient dL/dy"}
    for tensor, role in (("x", "x"), ("k", "k"), ("y", "g"), ("g", "g")):
        idx, ranges = geometry.tensor_indices(role)
        entry = sympy.IndexedBase(tensor)[idx]
        shape = " \\times ".join(expr_tex(hi + 1) for _, hi in ranges.values())
        rows.append(f"${entry_tex(entry)}$ & {meaning[tensor]} & ${shape}$ \\\\")
    return "\\begin{tabular}{lll}\n entry & tensor & index ranges (sizes) \\\\ \\hline\n" + "\n".join(rows) + \
        "\n\\end{tabular}"


def _claims_to_pretty(pretty_geometry) -> dict:
    """Claim-language size symbols -> the document's symbols (H0 -> H, K0 -> K_H, ...)."""
    claims_geometry = proof.symbolic_geometry("conv", pretty_geometry.ndim, True, True, names="claims")
    return _size_map(claims_geometry, pretty_geometry)
