"""Whole-network provenance: compositions against one-hot brute force, the chain grammar,
the affine summary, exact counts beyond int64, and the answers."""

import itertools
import json
import math
import subprocess
import sys
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from symconv.errors import SymconvError
from symconv.network import compose, parse_chain, readers, trace
from symconv.network.affine import summaries

from .. import network_reference as ref

# ---- random chains, checked against the brute force -----------------------------------------


def _out_shape(layer, shape):
    x = np.zeros((1, *shape), dtype=object)
    return ref.apply(layer, x, "count").shape[1:]


@st.composite
def window(draw, nd, pad_options=True):
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    kinds = ["SAME", "VALID", "explicit"] if pad_options else ["SAME", "VALID"]
    pad = draw(st.sampled_from(kinds))
    if pad == "explicit":
        pad = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    return k, s, d, pad


@st.composite
def layer(draw, shape, last):
    nd = len(shape) - 1
    sizes, channels = shape[:-1], shape[-1]
    kinds = ["conv", "depthwise", "transpose", "maxpool", "avgpool", "pad", "crop", "slice", "upsample",
             "relu", "add", "concat"] + (["gap"] if last else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        k, s, d, pad = draw(window(nd))
        c = draw(st.integers(1, 3))
        g = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0 and c % g == 0]))
        return {"kind": kind, "k": k, "s": s, "d": d, "pad": pad, "c": c, "g": g}
    if kind == "depthwise":
        k, s, d, pad = draw(window(nd))
        return {"kind": kind, "k": k, "s": s, "d": d, "pad": pad, "m": draw(st.integers(1, 2))}
    if kind == "transpose":
        k, s, _, pad = draw(window(nd, pad_options=False))
        return {"kind": kind, "k": k, "s": s, "pad": pad, "c": draw(st.integers(1, 2))}
    if kind in ("maxpool", "avgpool"):
        k, s, _, pad = draw(window(nd, pad_options=False))
        return {"kind": kind, "k": k, "s": s, "pad": pad}
    if kind == "pad":
        return {"kind": kind, "pads": tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in sizes)}
    if kind == "crop":
        crops = []
        for n in sizes:
            b = draw(st.integers(0, n - 1))
            crops.append((b, draw(st.integers(0, n - 1 - b))))
        return {"kind": kind, "crops": tuple(crops)}
    if kind == "slice":
        slices = []
        for n in sizes:
            start = draw(st.integers(0, n - 1))
            slices.append((start, draw(st.integers(start + 1, n)), draw(st.integers(1, 3))))
        return {"kind": kind, "slices": tuple(slices)}
    if kind == "upsample":
        return {"kind": kind, "f": tuple(draw(st.integers(1, 2)) for _ in sizes),
                "mode": draw(st.sampled_from(["nearest", "bilinear"]))}
    if kind in ("add", "concat"):
        branch = []
        for _ in range(draw(st.integers(1, 2))):
            inner = draw(st.sampled_from(["conv", "depthwise", "maxpool", "relu"]))
            k = tuple(draw(st.sampled_from([1, 3])) for _ in sizes)
            if inner == "conv":
                c = channels if kind == "add" else draw(st.integers(1, 2))
                branch.append({"kind": "conv", "k": k, "s": (1,) * nd, "d": (1,) * nd, "pad": "SAME",
                               "c": c, "g": 1})
            elif inner == "depthwise":
                branch.append({"kind": "depthwise", "k": k, "s": (1,) * nd, "d": (1,) * nd, "pad": "SAME", "m": 1})
            elif inner == "maxpool":
                branch.append({"kind": "maxpool", "k": k, "s": (1,) * nd, "pad": "SAME"})
            else:
                branch.append({"kind": "relu"})
            if kind == "concat":
                break
        return {"kind": kind, "branch": branch}
    return {"kind": kind}


@st.composite
def chains(draw):
    nd = draw(st.sampled_from([1, 2]))
    sizes = tuple(draw(st.integers(1, 6 if nd == 2 else 10)) for _ in range(nd))
    shape = (*sizes, draw(st.integers(1, 2)))
    input_shape = shape
    chain = []
    count = draw(st.integers(1, 4))
    for i in range(count):
        item = draw(layer(shape, last=i == count - 1))
        try:
            out = _out_shape(item, shape)
        except (ValueError, IndexError):
            continue
        if 0 in out or int(np.prod(out)) > 400 or any(n > 24 for n in out[:-1]):
            continue
        chain.append(item)
        shape = out
    if not chain:
        chain.append({"kind": "relu"})
    entry = tuple(draw(st.integers(0, n - 1)) for n in shape)
    pixel = tuple(draw(st.integers(0, n - 1)) for n in input_shape)
    return chain, input_shape, entry, pixel


def _network(chain, input_shape):
    return parse_chain(ref.chain_text(chain), "1x" + "x".join(map(str, input_shape)))


def _dense_at_input(terms, input_shape):
    return compose.dense(terms, input_shape[:-1], input_shape[-1])


def _corners(shape):
    """Every corner of a shape, channels first and last: borders are where maps go wrong."""
    return sorted(set(itertools.product(*[(0, n - 1) for n in shape])))


@settings(max_examples=100, deadline=None)
@given(chains())
def test_compositions_equal_one_hot_brute_force(case):
    """Path counts and the linear clone's exact gradient, at the drawn entry and every corner
    of the output, and the readers of the drawn pixel and every corner of the input, equal the
    brute force's one-hot forward passes."""
    chain, input_shape, entry, pixel = case
    text = ref.chain_text(chain)
    net = _network(chain, input_shape)
    out = net.node("out")
    counts = ref.run(chain, input_shape, "count")
    weights = ref.run(chain, input_shape, "weight")
    size = int(np.prod(input_shape))
    for e in [entry] + _corners(counts.shape[1:]):
        answer = trace(net, "out", (0, *e))
        expected = counts[(slice(None), *e)].reshape(input_shape)
        assert np.array_equal(_dense_at_input(answer.terms, input_shape), expected), (text, e)
        assert answer.paths == sum(expected.reshape(-1).tolist())
        assert answer.entry_count == int((expected != 0).sum())
        canon = net.canonical(out, (0, *e))
        exact = compose.backward(net, out.name, canon, weighted=True)["x"]
        expected = weights[(slice(None), *e)].reshape(input_shape)
        assert np.array_equal(_dense_at_input(exact, input_shape), expected), (text, e, "weighted")
    for p in [pixel] + _corners(input_shape):
        answer = readers(net, "out", (0, *p))
        got = compose.dense(answer.terms, out.shape.spatial, out.shape.channels)
        expected = counts[np.ravel_multi_index(p, input_shape)]
        assert np.array_equal(got.reshape(expected.shape), expected), (text, p, "readers")
    assert size == counts.shape[0]


# ---- exactness at scale -------------------------------------------------------------------

def test_counts_beyond_int64_are_exact():
    """30 layers of 1-D 3-tap convolutions with 1000 channels: each entry's count is a
    trinomial coefficient times 1000**29 (which int64 cannot hold)."""
    layers = 30
    chain = " > ".join(["conv1d 3 c1000"] * layers)
    answer = trace(chain, "out", (0, 0, 7), input_shape=f"1x{2 * layers + 1}x5")
    assert len(answer.terms) == 1
    poly = [1]
    for _ in range(layers):  # coefficients of (1 + z + z^2)^layers, independently
        poly = [sum(poly[j] for j in (i - 2, i - 1, i) if 0 <= j < len(poly)) for i in range(len(poly) + 2)]
    channels = 1000 ** (layers - 1)
    counts = answer.counts
    assert counts.shape == (2 * layers + 1, 5)
    assert [counts[p, 0] for p in range(2 * layers + 1)] == [c * channels for c in poly]
    assert answer.paths == 3 ** layers * 5 * channels
    assert answer.paths > 2**63


def test_residual_network_keeps_few_terms():
    """Identity shortcuts: one term per distinct footprint, not one per path."""
    block = "add( conv2d 1x1 c8 > conv2d 3x3 SAME c8 > conv2d 1x1 c8 | )"
    chain = "conv2d 3x3 SAME c8 > " + " > ".join([block] * 10)
    answer = trace(chain, "out", (0, 8, 8, 3), input_shape="1x17x17x2")
    assert len(answer.terms) <= 11
    # each input pixel's count: sum over the number j of 3x3 blocks taken of C(10, j) paths
    # through (1 + z + z^2)^(j+1) per axis; check the centre against that closed form
    centre = answer.count_at((8, 8, 0))
    expected = 0
    for j in range(11):
        per_axis = [1]
        for _ in range(j + 1):
            per_axis = [sum(per_axis[i] for i in (m - 2, m - 1, m) if 0 <= i < len(per_axis))
                        for m in range(len(per_axis) + 2)]
        middle = per_axis[len(per_axis) // 2]
        # each main branch reads every channel three times (1x1, 3x3, 1x1 over 8 channels):
        # 8**3 more paths per block, counted over the stem's 8 channels per input channel
        expected += comb(10, j) * middle * middle * 8 ** (3 * j)
    assert centre == expected


# ---- the affine summary -------------------------------------------------------------------

def distill_summary(layers):
    """Receptive field by the Distill (2019) closed forms: r0 = sum (k_l - 1) prod s + 1,
    u0 = -sum p_l prod s, stride = prod s."""
    size, offset, stride = 1, 0, 1
    for k, s, d, p in layers:
        size += d * (k - 1) * stride
        offset -= p * stride
        stride *= s
    return size, offset, stride


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 2), st.integers(0, 3)),
                min_size=1, max_size=5), st.integers(0, 3))
def test_affine_summary_is_the_distill_formula_and_holds_the_exact_reads(layers, o):
    text = " > ".join(f"conv1d {k} s{s} d{d} p{p}:{p} c1" for k, s, d, p in layers)
    size = n = 200
    for k, s, d, p in layers:  # a chain that empties a layer is no network: drawn again
        n = (n + 2 * p - d * (k - 1) - 1) // s + 1
        assume(n >= 1)
    net = parse_chain(text, f"1x{size}x1")
    last = list(net.nodes)[-1]
    summary = summaries(net)[last][0]
    r, u, j = distill_summary(layers)
    assert (summary.size, summary.offset, summary.stride) == (r, u, j)
    out = net.nodes[last].shape.spatial[0]
    o = min(o, out - 1)
    answer = trace(net, last, (0, o, 0))
    lo, hi = summary.window(o)
    positions = answer.axis_positions[0]
    assert all(lo <= p <= hi for p in positions.tolist())
    if len(positions) and all(d == 1 for _, _, d, _ in layers) and lo >= 0 and hi < size:
        assert (positions[0], positions[-1]) == (lo, hi)  # inside, with unit dilations: exact


def test_summary_reports_the_border_and_the_gaps():
    answer = trace("conv1d 3 d3 SAME c1", "out", (0, 0, 0), input_shape="1x16x1")
    (axis,) = answer.axes
    assert axis.window == (-3, 3)
    assert axis.positions.tolist() == [0, 3]
    text = " ".join(axis.differences)
    assert "the border clips 3 positions" in text
    assert "2 positions inside the span are never read" in text  # the dilation's gaps


def test_branches_with_different_strides_have_no_summary():
    net = parse_chain("concat( conv1d 2 s2 | conv1d 1 s2 ) > conv1d 1", "1x8x1")
    assert summaries(net)["l3"][0] is not None
    net = parse_chain("add( upsample 2 > crop 0:0 > maxpool 2 | )", "1x8x1")
    # upsample then pooling back gives stride 1 through a fractional stride: still one summary
    assert summaries(net)[list(net.nodes)[-1]][0].stride == 1


# ---- the chain grammar and its errors -----------------------------------------------------

@pytest.mark.parametrize("text,column", [
    ("conv2d 3x3 > conv2d 3x3 s2 BOGUS", 28),
    ("conv2d 3x3 >> conv2d 3x3", 13),
    ("conv2d", 7),
    ("frobnicate 3x3", 1),
    ("add( conv2d 3x3 SAME )", 1),
    ("add( conv2d 3x3 SAME | ", 24),
    ("conv2d 3x3 > ", 14),
])
def test_parse_errors_name_the_column(text, column):
    with pytest.raises(SymconvError, match=f"at column {column}$"):
        parse_chain(text, "1x8x8x3")


def test_every_layer_kind_parses_with_its_shape():
    text = ("conv2d 3x3 s2 d1 SAME c8 g2 > depthwise 3x3 m2 SAME > separable 3x3 c4 SAME > transpose 3x3 s2 SAME c4 "
            "> maxpool 2x2 > avgpool 3x3 s1 SAME > pad 1:2,0:1 > crop 1:0,0:1 > upsample 2 bilinear > "
            "slice 0:8:2,1::1 > relu > bn > add( conv2d 3x3 SAME c4 | ) > concat( conv2d 1x1 c2 | ) > softmax > "
            "gap > dense c10")
    net = parse_chain(text, "1x16x16x4")
    shapes = [node.shape.text() for node in net.nodes.values()]
    assert shapes == ["16x16x4", "8x8x8", "8x8x16", "8x8x16", "8x8x4", "16x16x4", "8x8x4", "8x8x4", "11x9x4",
                      "10x8x4", "20x16x4", "4x15x4", "4x15x4", "4x15x4", "4x15x4", "4x15x4", "4x15x2", "4x15x6",
                      "4x15x6", "6", "10"]
    assert net.aliases["out"] == list(net.nodes)[-1]


def test_bad_requests_are_one_line_errors():
    with pytest.raises(SymconvError, match="out of range"):
        trace("conv2d 3x3", "out", (0, 9, 0, 0), input_shape="1x8x8x3")
    with pytest.raises(SymconvError, match="must be one of the network's layers"):
        trace("conv2d 3x3", "nowhere", (0, 0, 0, 0), input_shape="1x8x8x3")
    with pytest.raises(SymconvError, match="output would be empty"):
        parse_chain("conv2d 5x5", "1x3x3x1")
    with pytest.raises(SymconvError, match="input_shape"):
        trace("conv2d 3x3", "out", (0, 0, 0, 0))


# ---- answers -------------------------------------------------------------------------------

def test_text_names_the_pixels_the_paths_and_the_summary():
    answer = trace("conv2d 3x3 s2 SAME c1 > conv2d 3x3 SAME c1", "out", (0, 0, 0, 0), input_shape="1x8x8x1")
    text = answer.text()
    assert "reads 25 of the 64 entries of x[0] (x: 1x8x8x1), all inside x[0, 0:5, 0:5, 0:1]" in text
    assert "paths: 36 in all, at most 4 to one entry (x[0,2,2,0])" in text
    assert "affine summary: size 7, stride 2, offset -2 -> window -2..4" in text
    assert text.count("# # # # #") == 5


def test_json_lists_pixels_with_exact_counts():
    answer = trace("conv1d 3 > maxpool 2", "out", (0, 1, 0), input_shape="1x8x1")
    obj = json.loads(json.dumps(answer.to_json()))
    pixels = {tuple(p["index"]): p["paths"] for p in obj["pixels"]}
    assert pixels == {(0, 2, 0): 1, (0, 3, 0): 2, (0, 4, 0): 2, (0, 5, 0): 1}
    assert obj["paths"] == 6 and obj["entries_read"] == 4
    assert any("depends on the data" in n for n in obj["notes"])


def test_the_reverse_question():
    answer = readers("conv2d 3x3 s2 SAME c4 > conv2d 3x3 SAME c4", "out", (0, 4, 4, 0), input_shape="1x8x8x1")
    got = {idx: c for idx, c in answer.entries()}
    # x row 4 is read by l1 rows 1 and 2 (stride 2, pads 0:1), which l2 rows 0..3 read 1, 2, 2, 1
    # times; each l2 entry reads all 4 channels of l1
    per_axis = [1, 2, 2, 1]
    assert got == {(0, i, j, c): per_axis[i] * per_axis[j] * 4 for i in range(4) for j in range(4) for c in range(4)}
    assert "is read by 64 of the 64 entries of l2" in answer.text()


def test_import_symconv_stays_free_of_the_network_package():
    code = ("import sys, symconv; bad = [m for m in sys.modules if m.startswith(('symconv.network', 'torch', "
            "'tensorflow', 'keras', 'matplotlib'))]; print(bad); t = symconv.trace; "
            "print(sorted(m for m in sys.modules if m.startswith(('torch', 'tensorflow', 'keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]


def test_exact_ranking_of_the_largest_count():
    # counts differ by one only past float64's precision: the exact comparison decides
    answer = trace(" > ".join(["conv1d 3 c1000"] * 40), "out", (0, 0, 0), input_shape="1x81x1")
    value, where = answer.max_entry()
    assert where == (40, 0)
    assert value == max(answer.count_at((p, 0)) for p in range(81))
    assert math.log2(value) > 300


def test_fractional_weights_of_average_pooling_and_bilinear():
    net = parse_chain("avgpool 3 s1 SAME > upsample 2 bilinear", "1x4x1")
    canon = net.canonical(net.node("out"), (0, 0, 0))
    terms = compose.backward(net, "l2", canon, weighted=True)["x"]
    got = compose.dense(terms, (4,), 1)[:, 0].tolist()
    # out[0] reads l1[0] with weight 1 (the clamped border); l1[0] averages x[0..1] (2 valid taps)
    assert got == [Fraction(1, 2), Fraction(1, 2), 0, 0]
