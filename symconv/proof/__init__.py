"""Proofs: derivations checked step by step by SymPy, for symbolic or numeric sizes.

Stage: above ``model`` and ``symbolic`` (and beside ``backends``); imports only the foundation and
those.  Rendering lives above, in ``show`` and ``latex``, never imported here.

Data and engine only:

* ``claims``: the small language of a user's claim, parsed without evaluating Python;
* ``formulas``: the engine's ``Term`` and exact evaluation of any formula in tensor entries;
* ``certificates``: integer inequalities SymPy checks by their form;
* ``geometry``: one convolution's sizes and symbols, and its forward definition;
* ``engine``: the rules and ``derive`` (definition -> L = sum(g*y) -> closed forms of dk, dx),
  and ``compose`` (the one-axis derivation on every axis);
* ``normal_form``: when two formulas are equal for every size;
* ``transposed``: dx as a transposed convolution;
* ``same``: what each padding convention's rule guarantees, proven from the rule;
* ``claims_check``: a user's claim proven, checked or refuted (``prove_claim``);
* ``report``: ``facts()``, the report of what is proven, what rests on a stated lemma, what is only checked.
"""

from .certificates import box_minimum, holds, implied, manifestly_nonneg
from .claims_check import (
    DEFAULT_BOUND,
    MAX_CASES,
    MAX_ENTRIES,
    Case,
    ClaimResult,
    Counterexample,
    actual_terms,
    attempt_proof,
    compare_formula,
    family,
    family_size,
    family_text,
    id_tensors,
    prove_claim,
    spec_sizes,
)
from .engine import Closed, Derivation, DerivationResult, Step, compose, composed_closed, derive, reference_derivation
from .formulas import Budget, Formula, StepFailed, Term, compile_formula, formula_expr, index, primed, size, value_of
from .geometry import AXIS_NAMES, KERNEL_LETTERS, Geometry, axis_names, spec_geometry, symbolic_geometry
from .normal_form import normal_form, normal_form_size, same_formula
from .report import (
    Check,
    Fact,
    Report,
    closed_form_fact,
    compare_closed,
    composed_matches_direct,
    facts,
    general_formula_matches,
    kind_cases,
    report_bounds,
)
from .same import PROPERTIES, prove_equal, prove_nonneg, same_findings
from .transposed import transposed_form, transposed_numeric

__all__ = ["AXIS_NAMES", "Budget", "Case", "Check", "ClaimResult", "Closed", "Counterexample", "DEFAULT_BOUND",
           "Derivation", "DerivationResult", "Fact", "Formula", "Geometry", "KERNEL_LETTERS", "MAX_CASES",
           "MAX_ENTRIES", "PROPERTIES", "Report", "Step", "StepFailed", "Term", "actual_terms", "attempt_proof",
           "axis_names", "box_minimum", "compare_closed", "compare_formula", "closed_form_fact", "compile_formula",
           "compose", "composed_closed", "composed_matches_direct", "derive", "facts", "family", "family_size",
           "family_text", "formula_expr", "general_formula_matches", "holds", "id_tensors", "implied", "index",
           "kind_cases", "manifestly_nonneg", "normal_form", "normal_form_size", "primed", "prove_claim",
           "prove_equal", "prove_nonneg", "reference_derivation", "report_bounds", "same_findings", "same_formula",
           "size", "spec_geometry", "spec_sizes", "symbolic_geometry", "transposed_form", "transposed_numeric",
           "value_of"]
