"""The reverse question (`which --reads`): which entries of y, dk and dx read one entry of x, k or g,
checked against the forward question asked of every entry."""

import json

import numpy as np
import pytest

import symconv
from symconv import ConvSpec
from symconv.cli import main
from symconv.model.indexmap import maps_for
from symconv.model.notation import all_indices
from symconv.model.spec import FACTORS, TENSOR_OF
from symconv.symbolic.reverse import readers

SPECS = [
    ConvSpec("conv2d", "1x5x4x2", "3x2x2x3", strides=(2, 1), dilations=(1, 2), padding="SAME"),
    ConvSpec("conv2d", "2x2x5x4", "2x3x1x4", strides=2, padding="1:0,-1:2", data_format="NCHW", groups=2),
    ConvSpec("depthwise_conv2d", "1x4x4x2", "3x3x2x2", strides=2, padding="SAME", convention="legacy_eigen"),
    ConvSpec("conv1d_transpose", "1x3x2", "3x2x2", strides=2, padding="SAME"),
    ConvSpec("conv3d", "1x3x2x3x1", "2x1x2x1x2", strides=(1, 1, 2), padding="VALID"),
]


def brute_force(spec, tensor, index):
    """quantity -> sorted [(fed entry, partner)], by asking every entry of every quantity."""
    out = {}
    for quantity, (one, two) in FACTORS.items():
        if tensor not in (one, two):
            continue
        found = []
        for entry in all_indices(spec.shape_of(TENSOR_OF[quantity])):
            terms = maps_for(spec).terms(quantity, entry)
            mine, other = (terms.first, terms.second) if one == tensor else (terms.second, terms.first)
            for row, partner in zip(mine.tolist(), other.tolist()):
                if tuple(row) == tuple(index):
                    found.append((tuple(entry), tuple(partner)))
        out[quantity] = sorted(found)
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.op)
@pytest.mark.parametrize("tensor", ["x", "k", "g"])
def test_readers_are_what_every_entry_says(spec, tensor):
    shape = spec.shape_of(tensor)
    rng = np.random.default_rng(len(repr(spec)) + ord(tensor))
    for _ in range(3):
        index = tuple(int(rng.integers(n)) for n in shape)
        answer = readers(spec, f"{tensor}[{','.join(map(str, index))}]")
        expected = brute_force(spec, tensor, index)
        assert {f.quantity: sorted(f.listed()) for f in answer.feeds} == expected, index
        assert answer.counts() == {q: len(v) for q, v in expected.items()}


def test_counts_come_first_and_the_ranges_match_the_list():
    stem = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
    answer = symconv.which(stem, reads="x[0,5,5,0]")
    assert answer.counts() == {"forward": 576, "filter_grad": 576}
    forward = answer.feeds[0]
    assert forward.closed_text == ("y[0, 3 - u, 3 - v, co] through k[1 + 2*u, 1 + 2*v, 0, co] "
                                   "for u in 0..2, v in 0..2, co in 0..63")
    rows = {f[1:3] for f, _ in forward.listed()}
    assert rows == {(i, j) for i in (1, 2, 3) for j in (1, 2, 3)}
    text = answer.text()
    assert text.startswith("x[0,5,5,0] feeds 576 entries of y and 576 entries of dk")
    assert "... (576 entries)" in text and text.count("(through k[") == 6
    assert "y[0,:,:,0..63] (rows 0..6 and columns 0..6 of 112x112)" in text


def test_an_entry_that_feeds_nothing():
    # A pixel no window reaches (stride 3 skips it) is read by no output.
    spec = ConvSpec("conv1d", "1x7x1", "1x1x1", strides=3)
    answer = readers(spec, "x[0,1,0]")
    assert answer.counts() == {"forward": 0, "filter_grad": 0}
    assert "y: 0 entries read it" in answer.text() and answer.to_json()["feeds"][0]["entries"] == []


def test_cli_reads_text_json_and_errors(capsys):
    args = ["which", "conv2d", "--input", "1x5x5x1", "--kernel", "3x3x1x1", "--strides", "2", "--padding", "SAME"]
    assert main([*args, "--reads", "g[0,1,1,0]", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reads"] == "g[0,1,1,0]" and out["dual"] == "y[0,1,1,0]"
    assert [(f["tensor"], f["count"]) for f in out["feeds"]] == [("dk", 9), ("dx", 9)]
    assert out["feeds"][1]["entries"][0] == {"dx": [0, 1, 1, 0], "k": [0, 0, 0, 0]}
    assert main([*args, "--entry", "y[0,0,0,0]", "--reads", "k[0,0,0,0]", "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert [e["entry"] for e in both["entries"]] == ["y[0,0,0,0]"] and both["reads"][0]["reads"] == "k[0,0,0,0]"
    for bad, message in [("y[0,0,0,0]", "reads must name one entry of x, k or g"),
                         ("x[0,5,0,0]", "reads x[0, 5, 0, 0] is out of range for shape (1, 5, 5, 1)"),
                         ("k[0,0]", "must have 4 indices")]:
        assert main([*args, "--reads", bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(args) == 2
    assert "ask for --entry ENTRY" in capsys.readouterr().err


@pytest.mark.parametrize("call,message", [
    (lambda s: symconv.which(s, reads=5), "reads must name one entry of x, k or g.*got 5"),
    (lambda s: symconv.which(s, "y[0,0,0,0]", reads="x[0,0,0,0]"), "give an entry or reads=, not both"),
    (lambda s: symconv.which(s), "which needs an entry"),
    (lambda s: symconv.which(s, reads="x[0,a,0,0]"), "reads indices must be integers"),
])
def test_api_misuse_is_one_symconv_error(call, message):
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
    with pytest.raises(symconv.SymconvError, match=message):
        call(spec)
