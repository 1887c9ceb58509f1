"""Inconsistent refusals: a framework refusing a case that it computes along another path, or
said another way.

A framework may refuse a case (its exception is its right), but when another path of the same
framework computes the very same case exactly (the raw backprop op refuses what the tape computes,
XLA refuses what eager TensorFlow computes), or the same path computes the same convolution said
another way (explicit pads refused, the same pads through SAME computed), the refusal is a defect
of its own: the matrix reports both, each with the command that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.conventions import REGISTRY
from .run import checked


def equivalent_specs(spec) -> list:
    """(how, spec) for other spellings of the same convolution: explicit pads that a registered
    SAME convention resolves to (the same arithmetic through SAME), and a SAME spec's pads
    given explicitly."""
    from dataclasses import replace

    from ..errors import SymconvError
    out = []
    if spec.padding == "SAME":
        try:
            out.append(("the same pads given explicitly", replace(spec, padding=tuple(spec.pads))))
        except SymconvError:
            pass
        return out
    if spec.padding == "VALID" or any(b < 0 or a < 0 for b, a in spec.pads):
        return out
    for name in REGISTRY:
        try:
            same = replace(spec, padding="SAME", convention=name)
        except SymconvError:
            continue
        if same.pads == spec.pads and same.y_shape == spec.y_shape:
            out.append((f"the same pads as SAME (convention {name})", same))
            break
    return out


@dataclass
class Contrast:
    """A refusal set beside a computation of the same case in the same framework: the refusing
    run and route, and what computed it (another run or route, or the same run on the case said
    another way)."""

    framework: str
    run: str
    case_id: str
    spec: object
    quantity: str
    route: str
    message: str
    other_run: str
    other_route: str
    other_spec: object = None      # None: the same spec
    how: str = ""                  # how the other spec says the same convolution


def spelled_otherwise(run, runner, results) -> list:
    """Contrasts for each refused quantity whose case, said another way (``equivalent_specs``),
    the same run computes exactly."""
    out, seen = [], set()
    for result in results:
        if result.spec.is_empty:
            continue
        for verdict in result.verdicts:
            if verdict.verdict != "refused" or (result.spec, verdict.quantity, verdict.route) in seen:
                continue
            seen.add((result.spec, verdict.quantity, verdict.route))
            for how, other in equivalent_specs(result.spec):
                _, found = checked(runner, other, [verdict.quantity])
                if any(v.route == verdict.route and v.verdict == "ok" and v.compared for v in found):
                    out.append(Contrast(run.framework, run.name, result.case_id, result.spec, verdict.quantity,
                                        verdict.route, verdict.message, run.name, verdict.route, other, how))
                    break
    return out


BY_SYMCONV = "by symconv"   # in a path that moves or pads the tensors itself ("x moved from NCHW to NHWC by symconv")


def inconsistent_refusals(matrix) -> list:
    """Every refusal of a quantity that another run or route of the same framework computes
    exactly on the same case, and those found by ``spelled_otherwise``."""
    done = [d for d in matrix.runs if not d.not_run]
    verdicts = {}   # (run, case) -> verdicts
    for d in done:
        for result in d.results:
            verdicts[(d.run.name, result.case_id)] = (result, d.run)
    out = []
    for d in done:
        for result in d.results:
            if result.spec.is_empty:
                continue
            for v in result.verdicts:
                if v.verdict != "refused":
                    continue
                for other in done:
                    if other.run.framework != d.run.framework:
                        continue
                    pair = verdicts.get((other.run.name, result.case_id))
                    if pair is None:
                        continue
                    # A path that computed the case only because symconv moved or padded the tensors
                    # first is not the framework computing it.
                    computed = next((o for o in pair[0].verdicts if o.quantity == v.quantity and o.verdict == "ok"
                                     and o.compared and (other is not d or o.route != v.route)
                                     and BY_SYMCONV not in (o.path or "")), None)
                    if computed is not None:
                        out.append(Contrast(d.run.framework, d.run.name, result.case_id, result.spec, v.quantity,
                                            v.route, v.message, other.run.name, computed.route))
                        break
        out.extend(d.contrasts)
    return out

