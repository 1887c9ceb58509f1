"""Text renderings of proof results: claims, counterexamples, facts, reports, derivations.

One function per result type, registered with ``symconv.display``: what ``repr`` prints in a
REPL and what ``symconv prove`` prints.
"""

from __future__ import annotations

from ..display import renders
from ..proof import Check, ClaimResult, Closed, Counterexample, Derivation, DerivationResult, Fact, Report, Term
from ..proof.claims_check import VALUES_FROM


def plural(count: int, one: str, many: str | None = None) -> str:
    """``plural(1, "case")`` -> ``1 case``; ``plural(2, "entry", "entries")`` -> ``2 entries``."""
    return f"{count} {one if count == 1 else many or one + 's'}"


@renders("text", Term)
def term_text(term: Term) -> str:
    return str(term.expr())


@renders("text", Closed)
def closed_text(closed: Closed) -> str:
    return f"{closed.lhs} = {closed.expr()}"


@renders("text", Derivation)
def derivation_text(deriv: Derivation, indent: str = "") -> str:
    lines = []
    for n, step in enumerate(deriv.steps, 1):
        shown = " + ".join(str(t.expr()) for t in step.terms) or "0"
        lhs = f"{step.lhs} = " if step.lhs is not None else "  = "
        lines.append(f"{indent}{n}. {step.title} [{step.rule}]: {lhs}{shown}")
        label = "stated" if step.rule == "definition" else "checked"  # a definition is not a check
        lines.append(f"{indent}   {label}: {step.checked}")
    return "\n".join(lines)


@renders("text", DerivationResult)
def result_text(result: DerivationResult) -> str:
    return "\n".join(closed_text(c) for c in result.closed.values())


@renders("text", Counterexample)
def counterexample_text(bad: Counterexample) -> str:
    claimed, actual = bad.to_json()["claimed"], bad.to_json()["actual"]
    show = lambda ts: " + ".join(ts[:8]) + (f" + ... ({len(ts)} terms)" if len(ts) > 8 else "") if ts else "0"
    return "\n".join([
        f"  at {', '.join(f'{k}={v}' for k, v in bad.sizes.items())}",
        f"     ({bad.spec})",
        f"  entry {bad.entry}:",
        f"    claimed = {show(claimed['terms'])}  (= {claimed['value']})",
        f"    actual  = {show(actual['terms'])}  (= {actual['value']})",
        f"    (values with {VALUES_FROM})"])


@renders("text", ClaimResult)
def claim_text(result: ClaimResult) -> str:
    lines = [f"claim: {result.claim.text}"]
    if result.status == "proven":
        lines.append("status: PROVEN for all sizes")
    elif result.status == "checked":
        limit = f"up to bound {result.bound}" if result.bound is not None else "for this spec only"
        lines.append(f"status: CHECKED {limit}, not proven for all sizes")
    else:
        lines.append("status: REFUTED")
    if result.status != "refuted":
        lines += [f"  {line}" for line in result.proof]
    if result.counterexample is None:
        lines.append(f"  checked against the index maps: {result.scope} ({plural(result.cases, 'convolution')}, "
                     f"{plural(result.entries, 'entry', 'entries')}): all agree")
    else:
        lines.append(f"  smallest counterexample (checking {result.scope}, in order):")
        lines.append(counterexample_text(result.counterexample))
    return "\n".join(lines)


@renders("text", Check)
def check_text(check: Check) -> str:
    what = plural(check.cases, "case") + (f", {plural(check.entries, 'entry', 'entries')}" if check.entries else "")
    if check.ok:
        verdict = "all agree"
    elif check.counterexample is not None:
        verdict = "FAILED:\n" + counterexample_text(check.counterexample)
    else:
        verdict = f"FAILED: {check.detail}"
    return f"{check.scope} ({what}): {verdict}"


STATUS_LABELS = {"proven": "PROVEN for all sizes", "checked": "CHECKED only up to a bound (no proof)",
                 "failed": "FAILED"}


@renders("text", Fact)
def fact_text(fact: Fact, steps: bool = False) -> str:
    label = STATUS_LABELS[fact.status]
    if fact.status == "proven" and fact.assumptions:
        label += ", assuming the lemma below"
    lines = [f"[{fact.key}] {label}", f"  {fact.statement}"]
    lines += [f"  proof: {line}" if i == 0 else f"         {line}" for i, line in enumerate(fact.proof)]
    lines += [f"  assuming: {lemma}" for lemma in fact.assumptions]
    if steps:
        for title, deriv in fact.derivations:
            lines.append(f"  steps ({title}):")
            lines.append(derivation_text(deriv, indent="    "))
    lines += [f"  checked: {check_text(c)}" for c in fact.checks]
    return "\n".join(lines)


def report_summary(report: Report) -> str:
    """The proven-versus-checked line every report ends with."""
    proven = [f.key + ("*" if f.assumptions else "") for f in report.facts if f.status == "proven"]
    line = (f"proven for all sizes: {', '.join(proven) or 'none'}; checked only up to a bound: "
            f"{', '.join(report.keys('checked')) or 'none'}")
    if any(f.assumptions for f in report.facts if f.status == "proven"):
        line += " (* assuming a stated lemma)"
    failed = report.keys("failed")
    return line + (f"; FAILED: {', '.join(failed)}" if failed else "")


@renders("text", Report)
def report_text(report: Report, steps: bool = False) -> str:
    parts = ["symconv facts: a proof covers every size; a check covers the sizes it names.", ""]
    for fact in report.facts:
        parts += [fact_text(fact, steps), ""]
    parts.append(report_summary(report))
    return "\n".join(parts)
