"""LaTeX derivation documents whose every displayed equality was checked first.

Stage: just above ``show``; imports the foundation and the stages below (``model``, ``symbolic``,
``proof``, ``show``'s proof text).  Nothing below imports it (``symconv.display`` finds it by name).

``spec_document(spec, ...)`` writes a standalone document (plain pdflatex, amsmath and
geometry only) that derives, for one convolution: the padding resolution from the
convention's rule with its numbers, the forward sum as the definition, L = sum(g*y) and the
chain rule, the Kronecker-delta collapse to the closed forms of dk and dx, and the requested
entries (products, pixels and, given tensors, numbers).  ``generic_document`` does the same
for symbolic sizes and adds the proven-versus-checked list of ``symconv.proof.facts``.

Nothing is written unless every check passed: the derivation steps check themselves (see
``symconv.proof``), the padding is evaluated by SymPy from the convention's rule and compared
with the registry's exact numbers, and each requested entry's closed form is compared,
product by product, with the index maps and with ``symbolic.closed_form``.  A failing check
raises ``StepFailed`` naming the step.  Output is deterministic: the same request gives the
same bytes.  This package also holds the LaTeX renderings of proof results (notebooks).
"""

from .document import PREAMBLE, Document, require
from .entries import EntryReading, entry_tex_block, exact_evaluation, free_values, read_entry, tensor_values
from .generic_document import build_generic_document, fact_latex, generic_document, report_latex
from .notebook import math_block
from .padding import padding_chain, padding_display
from .printing import (
    condition_tex,
    display,
    entry_tex,
    expr_tex,
    lhs_tex,
    limit_tex,
    quantity_tex,
    rule_tex,
    symbol_tex,
    term_pieces,
    term_tex,
    terms_pieces,
    terms_tex,
    tex_escape,
)
from .spec_document import build_spec_document, spec_document

__all__ = ["Document", "EntryReading", "PREAMBLE", "build_generic_document", "build_spec_document", "condition_tex",
           "display", "entry_tex", "entry_tex_block", "exact_evaluation", "expr_tex", "fact_latex", "free_values",
           "generic_document", "lhs_tex", "limit_tex", "math_block", "padding_chain", "padding_display", "quantity_tex", "read_entry",
           "report_latex", "require", "rule_tex", "spec_document", "symbol_tex", "tensor_values", "term_pieces",
           "term_tex", "terms_pieces", "terms_tex", "tex_escape"]
