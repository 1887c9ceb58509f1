"""A network's answers have the face of every other answer: a text repr, an HTML table, a PNG
for notebooks, plot() returning a Picture, to_json() and save() by the path's suffix; pictures
of chains through max pooling name the data-dependent layers."""

import json

import pytest

import symconv
from symconv.errors import SymconvError
from symconv.network import readers, trace

pytest.importorskip("matplotlib")

POOLED = "conv2d 7x7 s2 SAME > maxpool 3x3 s2 SAME > conv2d 3x3 s1 SAME"
PLAIN = "conv2d 3x3 s2 SAME c1 > conv2d 3x3 SAME c1"


@pytest.fixture(scope="module")
def pooled():
    return trace(POOLED, "out", (0, 0, 0, 5), input_shape="1x32x32x3")


@pytest.fixture(scope="module")
def plain():
    return trace(PLAIN, "out", (0, 0, 0, 0), input_shape="1x8x8x1")


def test_trace_is_a_rendered_answer_like_the_others(pooled):
    assert isinstance(pooled, symconv.display.Rendered)
    assert repr(pooled) == pooled.text() and repr(pooled).startswith("l3[0,0,0,5]")


def test_trace_html_is_a_table_with_the_data_dependent_layer(pooled):
    page = pooled._repr_html_()
    assert page.startswith('<table class="symconv"') and "507 of the 3,072 entries of x[0]" in page
    assert "<th>data-dependent</th>" in page and "l2 (maxpool 3x3 s2" in page
    assert pooled._repr_latex_() is None   # no LaTeX face: Jupyter then uses the HTML


def test_trace_plot_is_a_picture_that_names_the_data_dependent_layers(pooled):
    picture = pooled.plot()
    assert isinstance(picture, symconv.show.plot.Picture)
    assert "data-dependent: l2 (maxpool 3x3 s2" in picture.title
    assert pooled._repr_png_().startswith(b"\x89PNG")
    assert pooled.data_dependent == ["l2"] and pooled.to_json()["data_dependent"] == ["l2"]


def test_a_chain_without_pooling_says_nothing_of_data(plain):
    assert plain.data_dependent == [] and "data-dependent" not in plain.plot().title
    assert "data-dependent" not in plain._repr_html_()


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_pictures_take_their_format_from_the_suffix(plain, tmp_path, suffix, magic):
    path = tmp_path / f"trace{suffix}"
    assert plain.plot(path).title.startswith("l2[0,0,0,0] reads 25")
    assert path.read_bytes().startswith(magic)
    other = tmp_path / f"saved{suffix}"
    plain.save(other)
    assert other.read_bytes().startswith(magic)


def test_save_writes_json_text_and_latex_by_suffix(plain, tmp_path):
    plain.save(tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text())["entries_read"] == 25
    plain.save(tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_text() == plain.text() + "\n"
    plain.save(tmp_path / "a.tex")
    assert "\\documentclass" in (tmp_path / "a.tex").read_text()


def test_save_and_plot_refuse_an_unknown_suffix(plain, tmp_path):
    with pytest.raises(SymconvError, match=r"an answer is saved as \.json, \.txt, \.png.*got '\.jpg'"):
        plain.save(tmp_path / "a.jpg")
    with pytest.raises(SymconvError, match=r"a picture is written as \.png, \.svg or \.pdf.*got '\.gif'"):
        plain.plot(tmp_path / "a.gif")
    assert not list(tmp_path.iterdir())


def test_readers_have_the_same_face():
    answer = readers(POOLED, "l2", (0, 5, 5, 0), input_shape="1x32x32x3")
    assert repr(answer).startswith("x[0,5,5,0] is read by 256 of")
    assert "note: l2: max pooling" in repr(answer)
    assert "<th>data-dependent</th>" in answer._repr_html_()
    picture = answer.plot()
    assert picture.title.startswith("x[0,5,5,0] is read by 256 entries of l2") and "data-dependent: l2" in picture.title
    assert answer._repr_png_().startswith(b"\x89PNG") and answer.to_json()["data_dependent"] == ["l2"]
    with pytest.raises(SymconvError, match=r"an answer is saved as \.json, \.txt, \.png, \.svg, \.pdf, chosen"):
        answer.save("readers.tex")


def test_an_answer_with_nothing_to_draw_has_no_png_but_says_why_when_plotted():
    empty = trace("pad 2:2,2:2 > conv2d 1x1 c1", "out", (0, 0, 0, 0), input_shape="1x3x3x1")
    assert "reads nothing of x" in repr(empty) and "nothing of x" in empty._repr_html_()
    assert empty._repr_png_() is None
    with pytest.raises(SymconvError, match="nothing to draw: .*nothing is read"):
        empty.plot()
