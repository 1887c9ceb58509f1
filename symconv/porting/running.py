"""Running a port: the source framework (through symconv's backend for it) and the code written
for the target, on the same exact integer probes, compared entry by entry, and each against
symconv's model."""

from __future__ import annotations

import importlib
import math

import numpy as np

from ..backends import open_runner
from ..backends.base import Call
from ..model.indexmap import maps_for
from ..model.values import random_generator
from ..probing.probe import ProbePlan, magnitudes, nonzero_integers
from . import TARGET_MODULES


def run_both(result, source, target, seed: int = 0) -> None:
    """Fill ``result.verified`` and ``result.verification``."""
    spec = result.spec
    writer = importlib.import_module(TARGET_MODULES[target.name], __package__)
    namespace = {"__name__": "symconv_port"}
    exec(compile(result.code, f"<symconv port to {target.name}>", "exec"), namespace)  # the code printed, as it is
    kernel_from, input_from, output_to = (namespace[f"{what}_{source.name}"]
                                          for what in ("kernel_from", "input_from", "output_to"))
    if result.form == "module":   # the module built from the source's kernel, called on the input
        build = namespace[f"module_from_{source.name}"]

        def forward(x, k):
            return writer.apply_module(build(k), input_from(x))
    else:
        layer = namespace["layer"]

        def forward(x, k):
            return layer(input_from(x), kernel_from(k))
    rng = random_generator(seed)
    probes = ProbePlan.for_quantity(spec, "forward").probes
    sizes = magnitudes(spec)
    maps = maps_for(spec)
    entries = math.prod(spec.y_shape)
    differs = {"target": 0, "source": 0, "model": 0}
    with open_runner(source.backend, isolate=True) as runner:   # a crash or its logs stay in the child
        path = runner.backend.paths(spec, "forward")[0]
        how = runner.backend.describe(spec, "forward", path)
        for _ in range(probes):
            x = nonzero_integers(rng, spec.x_shape, sizes["x"])
            k = nonzero_integers(rng, spec.k_shape, sizes["k"])
            outcome = runner.run([Call(spec, "forward", path, {"x": x, "k": k})])[0]
            if outcome.status != "ok":
                what = f"{outcome.error_type}: {outcome.message}" if outcome.error_type else outcome.message
                result.verification = f"not verified: {source.words} ({how}) failed: {what}"
                return
            mine = np.asarray(writer.to_numpy(output_to(forward(x, k))), dtype=np.float64)
            theirs = np.asarray(outcome.value, dtype=np.float64)
            model = maps.evaluate("forward", x=x.astype(np.int64), k=k.astype(np.int64))
            if mine.shape != spec.y_shape or theirs.shape != spec.y_shape:
                result.verified = False
                result.verification = (f"NOT the same layer: {target.words} gives shape {mine.shape}, "
                                       f"{source.words} {theirs.shape}")
                return
            differs["target"] += int((mine != theirs).sum())
            differs["source"] += int((theirs != model).sum())
            differs["model"] += int((mine != model).sum())
    result.verified = differs["target"] == 0
    result.details = {"probes": probes, "entries": entries, "source_path": how,
                      "differing_entries": differs["target"]}
    on = f"on {probes} integer probe{'s' if probes != 1 else ''} (float32 integers, every sum within 2**24)"
    if result.verified:
        model = "both equal symconv's model" if differs["model"] == 0 else \
            f"both differ from symconv's model on {differs['model']} entries"
        result.verification = (f"verified: {source.words} ({how}) and the {target.words} {_what(result)} above agree\n"
                               f"exactly on all {entries} entries of y {on};\n{model}")
    else:
        result.verification = (f"NOT verified: {source.words} ({how}) and the {target.words} {_what(result)} above differ\n"
                               f"on {differs['target']} entries of y over {probes} probes; {source.words} differs "
                               f"from symconv's model\non {differs['source']}, the code on {differs['model']}")


def _what(result) -> str:
    return "module" if result.form == "module" else "code"
