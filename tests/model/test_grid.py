"""Every op x convention x layout x padding kind, deterministically (the sweeps sample; this covers)."""


import numpy as np
import pytest

from symconv import ConvSpec
from symconv.model import reference
from symconv.model.conventions import REGISTRY
from symconv.model.indexmap import maps_for
from symconv.model.spec import DATA_FORMATS, OPS, QUANTITIES
from symconv.symbolic.expressions import expression, literal_derivation

NEEDS = {"forward": ("x", "k"), "filter_grad": ("x", "g"), "input_grad": ("k", "g")}


def tiny_spec(op, convention, fmt, padding, groups=1):
    nd, kind = OPS[op]
    spatial = (3, 2, 3)[:nd]
    c_in = 2 * groups if kind != "depthwise" else 2
    if kind == "conv":
        kernel = (*(2,) * nd, c_in // groups, groups)
    elif kind == "depthwise":
        kernel = (*(2,) * nd, c_in, 2)
    else:
        kernel = (*(2,) * nd, 1, c_in)
    shape = (1, *spatial, c_in) if fmt.endswith("C") else (1, c_in, *spatial)
    pads = padding if padding != "explicit" else ((1, -1), (0, 2), (2, 0))[:nd]
    return ConvSpec(op, shape, kernel, strides=(2, 1, 2)[:nd], dilations=(1, 2, 1)[:nd], padding=pads,
                    convention=convention, data_format=fmt, groups=groups)


GRID = [(op, conv, fmt, pad, groups)
        for op, (nd, kind) in OPS.items()
        for conv in sorted(REGISTRY)
        for fmt in DATA_FORMATS[nd]
        for pad in (("SAME",) if conv != "tf" else ("SAME", "VALID", "explicit"))
        for groups in ((1, 2) if kind != "depthwise" and conv == "tf" and pad == "SAME" else (1,))]


@pytest.mark.parametrize("op,convention,fmt,padding,groups", GRID)
def test_all_routes_agree(op, convention, fmt, padding, groups):
    spec = tiny_spec(op, convention, fmt, padding, groups)
    rng = np.random.default_rng(len(repr(spec)))
    tensors = {n: rng.integers(-9, 10, spec.shape_of(n)) for n in "xkg"}
    literal = literal_derivation(spec) if not spec.is_empty else None
    for quantity in QUANTITIES:
        args = {n: tensors[n] for n in NEEDS[quantity]}
        assert np.array_equal(maps_for(spec).evaluate(quantity, **args), reference.evaluate(spec, quantity, **args))
        if literal is None:
            continue
        for index, expr in literal.entries(quantity).items():
            assert expression(spec, quantity, index) == expr, (quantity, index)


def test_grid_covers_every_op_convention_and_layout():
    seen = {(op, conv, fmt) for op, conv, fmt, _, _ in GRID}
    want = {(op, conv, fmt) for op, (nd, _) in OPS.items() for conv in REGISTRY for fmt in DATA_FORMATS[nd]}
    assert seen == want
    assert len({p for *_, p, _ in GRID}) == 3 and {g for *_, g in GRID} == {1, 2}
