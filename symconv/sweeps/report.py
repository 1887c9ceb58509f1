"""What a sweep found: a verdict per quantity of each case, findings with their smallest
reproducing command, and the report (a summary table by op and padding, JSON).

A quantity's verdict is one of:

* ``ok``: every entry agrees exactly;
* ``refused``: the implementation raised an exception of its own (its framework's class, or
  raised in its code), which is its right; an exception from symconv's own code is a finding;
* ``skipped``: nothing to check (ONNX Runtime's gradients, a function an impl file lacks);
* ``finding``: wrong values, a wrong shape, garbage, a crash or an exception that is not the
  implementation's own refusal.

A case is a finding when one of its quantities is, else refused when one is refused, else ok
(or skipped when nothing was checked).  A finding's *kind* says how it fails (the diagnosis's
hypotheses, a wrong shape, garbage, a crash, the exception's type): shrinking a case keeps it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..model.spec import OPS, ConvSpec
from .cases import PADDING_LABELS, padding_label

VERDICTS = ("ok", "refused", "finding", "skipped")
# The exit status of `symconv sweep`: findings 1, nothing checked 3 (as `symconv check`).
EXIT_STATUS = {"ok": 0, "finding": 1, "refused": 3, "skipped": 3}


@dataclass(frozen=True)
class Verdict:
    """One quantity along one path of one case."""

    quantity: str
    route: str             # the backend's path key: raw, tape, op, inference, ...
    path: str              # the path as reports describe it (the ops that ran)
    status: str            # check's status: ok, mismatch, error, unsupported or skipped
    verdict: str           # ok, refused, skipped or finding
    kind: str = ""         # how it fails (findings): "diagnosis: <hypotheses>", "wrong shape", ...
    hypotheses: tuple = ()  # the diagnosis's accepted hypotheses, the first first (mismatches)
    message: str = ""
    detail: str = ""       # the first wrong entry in words, or where the exception came from
    compared: bool = False  # ok after comparing values (not a right refusal of a case with no output)
    limit: str = ""        # a finding where the framework documents (or warned) that it does not support the case

    def fails_like(self, other: "Verdict") -> bool:
        """The same quantity and path failing the same way: the same status and kind (for a
        diagnosed mismatch, a hypothesis in common)."""
        if (self.quantity, self.route, self.status, self.verdict) != (other.quantity, other.route, other.status,
                                                                      other.verdict):
            return False
        if self.hypotheses or other.hypotheses:
            return bool(set(self.hypotheses) & set(other.hypotheses))
        return self.kind == other.kind

    def text(self) -> str:
        what = f"{self.quantity} via {self.path}: {self.status}"
        parts = [p for p in (self.kind, self.message, self.detail) if p]
        return what + (": " + "; ".join(parts) if parts else "")

    def as_json(self) -> dict:
        return {"quantity": self.quantity, "route": self.route, "path": self.path, "status": self.status,
                "verdict": self.verdict, "compared": self.compared,
                "kind": self.kind, "hypotheses": list(self.hypotheses), "message": self.message,
                "detail": self.detail, "documented_unsupported": self.limit}


@dataclass
class Finding:
    """A failing quantity of a case, its smallest reproduction and its confirmation by the
    loop reference (``symconv.reference``, written without the index maps)."""

    verdict: Verdict
    smallest: ConvSpec | None = None
    command: str = ""
    shrink_steps: int = 0
    confirmed: bool | None = None    # None: not compared (an exception, a crash)
    confirmation: str = ""

    def as_json(self) -> dict:
        return {**self.verdict.as_json(), "smallest": None if self.smallest is None else self.smallest.describe(),
                "command": self.command, "shrink_steps": self.shrink_steps, "confirmed": self.confirmed,
                "confirmation": self.confirmation}


@dataclass
class CaseResult:
    """Every verdict on one case (``report``: the CheckReport, only where the case ran in this
    process)."""

    case_id: str
    spec: ConvSpec
    verdicts: list
    findings: list = field(default_factory=list)
    text: str = ""
    seconds: float = 0.0
    report: object = None

    @property
    def verdict(self) -> str:
        found = {v.verdict for v in self.verdicts}
        return next((v for v in ("finding", "refused", "ok") if v in found), "skipped")

    def as_json(self) -> dict:
        return {"case": self.case_id, "spec": self.spec.describe(), "verdict": self.verdict,
                "verdicts": [v.as_json() for v in self.verdicts], "findings": [f.as_json() for f in self.findings],
                "seconds": round(self.seconds, 4)}

    def detached(self) -> "CaseResult":
        """This result without the in-process report (to send it to another process)."""
        return CaseResult(self.case_id, self.spec, self.verdicts, self.findings, self.text, self.seconds)


@dataclass
class SweepReport:
    """A sweep of one implementation: ``target`` names it (backend and variant, or impl file)."""

    target: str
    size: str
    results: list
    seconds: float = 0.0
    engine: str = "serial"
    left_out: int = 0            # cases outside the filters or what the implementation declares
    coverage: str = "everything"  # what was asked for, in words

    @property
    def status(self) -> str:
        """finding (1), ok (something was checked, nothing found: 0), refused or skipped
        (nothing was checked: 3)."""
        verdicts = {"ok" if v.compared else "refused" if v.verdict == "ok" else v.verdict
                    for r in self.results for v in r.verdicts}
        return next((v for v in ("finding", "ok", "refused") if v in verdicts), "skipped")

    def counts(self) -> dict:
        """Cases checked (some quantity compared: ok or a finding); with no output, rightly
        refused (nothing to compare); refused; skipped (nothing run); left out (outside the
        coverage)."""
        out = dict.fromkeys(("checked", "no_output", "refused", "skipped"), 0)
        for r in self.results:
            if any(v.compared or v.verdict == "finding" for v in r.verdicts):
                out["checked"] += 1
            elif any(v.verdict == "ok" for v in r.verdicts):
                out["no_output"] += 1
            else:
                out["refused" if any(v.verdict == "refused" for v in r.verdicts) else "skipped"] += 1
        out["left_out"] = self.left_out
        return out

    def count_line(self) -> str:
        c = self.counts()
        found = sum(r.verdict == "finding" for r in self.results)
        line = f"{c['checked']} checked ({c['checked'] - found} ok, {found} with findings)"
        if c["no_output"]:
            line += f", {c['no_output']} with no output refused as is right"
        line += f", {c['refused']} refused, {c['skipped']} skipped"
        if self.left_out:
            line += f"; {self.left_out} left out (outside {self.coverage})"
        if not c["checked"]:
            line += ": NOTHING WAS CHECKED"
        return line

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]

    @property
    def findings(self) -> list:
        """(case result, finding) for every finding, in case order."""
        return [(r, f) for r in self.results for f in r.findings]

    def summary(self) -> list:
        """(op, padding, {verdict: cases}) grouped by op and padding, in the cases' order."""
        rows = {}
        for r in self.results:
            counts = rows.setdefault((r.spec.op, padding_label(r.spec)), dict.fromkeys(VERDICTS, 0))
            counts[r.verdict] += 1
        order = {label: i for i, label in enumerate(PADDING_LABELS)}
        ops = list(OPS)
        return [(op, padding, counts) for (op, padding), counts in
                sorted(rows.items(), key=lambda item: (ops.index(item[0][0]), order.get(item[0][1], len(order))))]

    def table(self) -> str:
        head = ("op", "padding", "cases", *VERDICTS)
        rows = [(op, padding, str(sum(c.values())), *(str(c[v]) for v in VERDICTS))
                for op, padding, c in self.summary()]
        totals = {v: sum(c[v] for _, _, c in self.summary()) for v in VERDICTS}
        rows.append(("all", "", str(len(self.results)), *(str(totals[v]) for v in VERDICTS)))
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
        lines = []
        for row in [head, *rows]:
            lines.append("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                                   for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        return "\n".join(lines)

    def text(self) -> str:
        lines = [f"sweep ({self.size}) of {self.target}: {len(self.results)} cases ({self.engine})",
                 f"cases: {self.count_line()}", "", self.table()]
        findings = self.findings
        if findings:
            lines += ["", f"findings ({len(findings)} in {len({r.case_id for r, _ in findings})} cases):"]
            for command, items in _by_command(findings).items():
                first = items[0][1]
                cases = ", ".join(dict.fromkeys(r.case_id for r, _ in items))
                lines.append(f"- {first.verdict.text()}")
                lines.append(f"  cases: {cases}")
                if first.command:
                    lines.append(f"  smallest: {first.command}")
                if first.confirmation:
                    lines.append(f"  {first.confirmation}")
        else:
            lines += ["", "no findings"]
        refusals = self.refusals()
        if refusals:
            lines += ["", f"refused by the implementation ({sum(len(c) for _, c in refusals.values())} "
                          f"quantities):"]
            lines += [f"- {message} ({len(cases)} case{'s' if len(cases) != 1 else ''}, e.g. {cases[0]})"
                      for message, cases in refusals.values()]
        return "\n".join(lines)

    def refusals(self) -> dict:
        """The implementation's refusals grouped by message (numbers aside): key -> (first
        message, case ids)."""
        out = {}
        for r in self.results:
            for v in r.verdicts:
                if v.verdict == "refused":
                    text = refusal_text(v.message)
                    out.setdefault(re.sub(r"\d+", "N", text), (text, []))[1].append(r.case_id)
        return out

    def __repr__(self):
        return self.text()

    def to_json(self) -> dict:
        return {"target": self.target, "size": self.size, "status": self.status, "engine": self.engine,
                "seconds": round(self.seconds, 3), "counts": self.counts(), "coverage": self.coverage,
                "summary": [{"op": op, "padding": padding, **counts} for op, padding, counts in self.summary()],
                "cases": [r.as_json() for r in self.results]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1)


def refusal_text(message: str) -> str:
    """A framework's refusal without its internal node names (TensorFlow's ``{{function_node
    ...}}`` prefix, a trailing ``name:``)."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    return re.sub(r"\s+name:\s*$", "", text).strip()


def _by_command(findings) -> dict:
    """Findings grouped by their smallest command (unshrunk ones each on their own)."""
    out = {}
    for result, finding in findings:
        key = finding.command or f"{result.case_id} {finding.verdict.quantity} {finding.verdict.route}"
        out.setdefault(key, []).append((result, finding))
    return out
