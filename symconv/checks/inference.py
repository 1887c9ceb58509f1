"""``infer``: the padding each quantity of a backend actually used, read from one-hot probes.

It names every convention that explains the pads read, and says "consistent" only when every
quantity was read in full (``reports.InferReport``).
"""

from __future__ import annotations

import numpy as np

from ..backends import Variant
from ..backends.runner import runner_for
from ..diagnose.diagnosis import with_geometry
from ..errors import SymconvError, shown
from ..model.indexmap import maps_for
from ..model.spec import QUANTITIES, TENSOR_OF, ConvSpec, entry_name, format_padding
from ..model.values import random_generator
from ..probing import taps as tap_probes
from ..probing.budget import require_memory
from .reports import EXPECTATIONS, Inferred, InferReport, backend_label, number_text, pads_text, variant_of


def infer(spec: ConvSpec, backend: str | None = None, *, impl: str | None = None, variant: Variant | None = None,
          grad_path: str = "raw", seed: int = 0, isolate: bool = False, timeout: float | None = None,
          runner=None, expect: str | None = None) -> InferReport:
    """The padding each quantity of a backend actually used, from observations alone.

    ``expect='model'`` makes the report's exit status 1 when any quantity was read with pads
    other than the model's (a CI gate on the padding), beside its usual 1 when the quantities
    disagree with each other.

    >>> from symconv import ConvSpec
    >>> spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    >>> infer(spec, "numpy").to_json()["forward"]["pads"]
    [[-1, -1], [-1, -1]]
    >>> impl = infer(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), "numpy", expect="model")
    >>> impl.exit_status, impl.expectation()
    (0, "expected the model's padding: every quantity read uses it (0:0,0:0)")
    """
    if not isinstance(spec, ConvSpec):
        raise SymconvError(f"spec must be a ConvSpec, got {type(spec).__name__}")
    if expect is not None and expect not in EXPECTATIONS:
        raise SymconvError(f"expect must be None or {' or '.join(map(repr, EXPECTATIONS))}, got {shown(expect)}")
    if grad_path == "both":
        raise SymconvError("infer reads one path per quantity: grad path must be raw or tape, got 'both'")
    rng = random_generator(seed)
    require_memory(spec, "infer", 2)
    with runner_for(runner, backend, impl=impl, variant=variant, grad_path=grad_path, isolate=isolate,
                    timeout=timeout) as runner:
        quantities = {q: _infer_quantity(runner, spec, q, runner.backend.paths(spec, q)[0], rng) for q in QUANTITIES}
    return InferReport(spec, backend_label(runner), variant_of(runner), quantities, expect)


def _infer_quantity(runner, spec, quantity, path, rng) -> Inferred:
    backend = runner.backend
    described = backend.describe(spec, quantity, path)
    reason = runner.skip_reason(spec, quantity, path)
    if reason:
        return Inferred(quantity, described, "skipped", None, [], [reason])
    before = runner.calls[(quantity, path)]
    taps = tap_probes.tap_observations(runner, spec, quantity, path, rng)
    calls = runner.calls[(quantity, path)] - before
    if taps.failed is not None:
        failed = taps.failed
        status = {"skipped": "skipped", "unsupported": "unsupported"}.get(failed.status, "error")
        what = f"{failed.error_type}: {failed.message}" if failed.error_type else failed.message
        return Inferred(quantity, described, status, None, [], [what], calls)
    reading = tap_probes.read_pads(spec, quantity, taps.observations)
    expected_shape = tuple(spec.shape_of(TENSOR_OF[quantity]))
    out_spatial = tap_probes.out_spatial_of(spec, quantity, taps.shape if taps.shape is not None else expected_shape)
    pads, names = tap_probes.explain_pads(spec, reading, out_spatial)
    result = Inferred(quantity, described, "ok", pads, names, [], calls)
    notes = result.notes
    if taps.shape is not None and tuple(taps.shape) != expected_shape:
        notes.append(f"output shape {tuple(taps.shape)} differs from the model's {expected_shape}")
        result.unread = "wrong output shape"
    if taps.garbage:
        result.status = "error"
        kinds = ", ".join(f"{n} {kind}" for kind, n in taps.garbage.items())
        shown = ", ".join(f"{entry_name(quantity, e)} ({kind})" for e, kind in taps.garbage_entries)
        result.unread = f"{sum(taps.garbage.values())} of {taps.outputs} outputs are garbage: {kinds}"
        notes.append(f"{result.unread} (no sum of products of integer ids gives them), e.g. {shown}; the pads "
                     f"are read from the other outputs")
    for axis in range(spec.ndim):
        state = reading.state(axis)
        if state == "unobserved":
            notes.append(f"spatial axis {axis}: every output reads only padding here, so its padding cannot be "
                         f"observed")
        elif state == "inconsistent":
            notes.append(f"spatial axis {axis}: no single padding explains the reads (they imply before = "
                         f"{sorted(reading.befores[axis])})")
    if pads is not None and all(p is not None for p in pads):
        model = [list(p) for p in spec.pads]
        if [p[0] for p in pads] != [p[0] for p in model]:
            notes.append(f"the model ({format_padding(spec.padding)}"
                         f"{', ' + spec.convention if spec.padding == 'SAME' else ''}) pads {pads_text(model)}")
    if any(state == "inconsistent" for state in map(reading.state, range(spec.ndim))):
        pads = result.pads = [None if reading.state(a) != "consistent" else p for a, p in enumerate(pads)]
    if result.status == "ok" and not result.unread and pads is not None and all(p is not None for p in pads):
        _explain_every_output(result, spec, quantity, taps)
    return result


def _explain_every_output(result, spec, quantity, taps) -> None:
    """Whether the pads read predict every output of the tap probes exactly: outputs that
    read nothing where a pixel is expected (a zero) or some other value are named."""
    alt = with_geometry(spec, befores=[p[0] for p in result.pads])
    if alt is None:
        result.unread = "the pads read do not fit the output size"
        return
    maps = maps_for(alt)
    zero = other = total = 0
    shown = []
    for inputs, observed in taps.calls:
        expected = maps.evaluate(quantity, **{n: np.asarray(a, dtype=np.float64) for n, a in inputs.items()})
        wrong = expected != observed
        total += observed.size
        zero_here = wrong & (observed == 0)
        zero += int(zero_here.sum())
        other += int((wrong & ~zero_here).sum())
        for entry in np.argwhere(wrong)[:3 - len(shown)]:
            entry = tuple(int(v) for v in entry)
            shown.append(f"{entry_name(quantity, entry)} = {number_text(observed[entry])} where these pads give "
                         f"{number_text(expected[entry])}")
    if zero or other:
        parts = ([f"{zero} are 0 where these pads read a pixel"] if zero else []) + \
            ([f"{other} hold another value"] if other else [])
        result.unread = f"{zero + other} of {total} outputs do not fit these pads"
        result.notes.append(f"{zero + other} of {total} outputs of the tap probes do not fit these pads ("
                            + ", ".join(parts) + "), e.g. " + "; ".join(shown))
    else:
        result.complete = True
