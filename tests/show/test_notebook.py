"""Answers and reports in a notebook and a pipeline: bounded HTML/LaTeX/text with the closed form
first, `.to_json()` equal to the command line's `--json`, explicit sums written from the term list."""

import json
from html.parser import HTMLParser

import numpy as np
import pytest
import sympy

import symconv
from symconv import ConvSpec, check, explain, infer
from symconv.cli import main
from symconv.model.indexmap import Terms
from symconv.symbolic import term_text

from ..conftest import need_backend
from ..paths import IMPLS

FOUNDING_ARGS = ["conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME"]
FOUNDING = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME")
STEM = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")


class Table(HTMLParser):
    """The rows of an HTML table, as lists of cell texts."""

    def __init__(self, markup):
        super().__init__()
        self.rows, self.tags, self._cell = [], [], None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def cli_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_a_large_entry_shows_its_closed_form_first_and_a_few_products_everywhere():
    answer = symconv.which(STEM, "dk[0,0,1,5]")
    latex = answer._repr_latex_()
    closed = sympy.latex(answer.closed_form, order="none")
    assert latex.startswith(f"$\\displaystyle {{dk}}_{{0,0,1,5}} = {closed} = {{g}}_{{0,1,1,5}} {{x}}_{{0,0,0,1}} + ")
    assert latex.endswith("+ \\dots \\quad \\text{(12,321 terms)}$") and latex.count("{g}_") == 1 + 6
    assert len(latex) < 1000  # was 432,042 characters listing every product
    rows = Table(answer._repr_html_()).rows
    assert rows[0] == ["entry", "dk[0,0,1,5]"] and rows[1][0] == "closed form" and rows[2] == ["products", "12,321"]
    assert rows[3][0] == "first products" and rows[3][1].count("{g}_") == 6
    assert rows[4][0] == "x entries used (#)" and "rows 0..11 and columns 0..11 of 224x224" in rows[4][1]
    first, second = answer.text().splitlines()[:2]
    assert first == f"dk[0,0,1,5] = {answer.closed_text}" and second.endswith("+ ... (12321 terms)")


def test_a_one_product_entry_is_one_line():
    answer = symconv.which(FOUNDING, "dk[0,0,0,0]")
    assert answer._repr_latex_() == "$\\displaystyle {dk}_{0,0,0,0} = {g}_{0,0,0,0} {x}_{0,0,0,0}$"
    assert answer.text().splitlines()[0] == "dk[0,0,0,0] = g[0,0,0,0]*x[0,0,0,0]"


def test_explicit_sums_written_from_the_term_list_are_sympys_sums():
    spec = ConvSpec("conv2d", "2x5x5x3", "3x3x3x2", strides=2, padding="SAME")
    names = {n: sympy.IndexedBase(n) for n in "xkg"}
    for quantity, index in (("forward", (1, 2, 0, 1)), ("filter_grad", (0, 2, 1, 1)), ("input_grad", (1, 3, 2, 0))):
        answer = symconv.which(spec, f"{ {'forward': 'y', 'filter_grad': 'dk', 'input_grad': 'dx'}[quantity] }"
                                     f"[{','.join(map(str, index))}]")
        text = answer.to_json()["expression"]
        assert sympy.sympify(text, locals=names) == answer.expression
        assert set(answer.to_json()["latex"].split(" + ")) == set(sympy.latex(answer.expression).split(" + "))
    t = Terms("filter_grad", (0,), ("g", "x"), np.array([[0], [1], [2]]), np.array([[3], [4], [5]]),
              np.array([1, -2, 3]))
    expected = names["g"][0] * names["x"][3] - 2 * names["g"][1] * names["x"][4] + 3 * names["g"][2] * names["x"][5]
    assert sympy.sympify(term_text.sympy_text(t), locals=names) == expected
    assert term_text.latex(t) == "{g}_{0} {x}_{3} - 2 {g}_{1} {x}_{4} + 3 {g}_{2} {x}_{5}"


def test_which_json_is_the_cli_json(capsys):
    for entry in ("dk[0,0,1,5]", "y[0,0,0,0]"):
        code, cli = cli_json(capsys, "which", "conv2d", "--input", "1x224x224x3", "--kernel", "7x7x3x64",
                             "--strides", "2", "--padding", "SAME", "--entry", entry, "--json")
        assert code == 0 and cli == json.loads(json.dumps(symconv.which(STEM, entry).to_json()))
    code, cli = cli_json(capsys, "which", *FOUNDING_ARGS, "--reads", "x[0,0,0,0]", "--json")
    assert cli == symconv.which(FOUNDING, reads="x[0,0,0,0]").to_json()


def test_a_tensor_over_the_listing_limit_is_answered_entry_by_closed_form(capsys):
    spec = ConvSpec("conv2d", "1x16x16x4", "3x3x4x4", padding="SAME")
    answer = symconv.which(spec, "dk")
    assert answer.compact and len(answer.answers) == 144
    assert sum(a.term_count for a in answer.answers) == 33856
    code, cli = cli_json(capsys, "which", "conv2d", "--input", "1x16x16x4", "--kernel", "3x3x4x4", "--padding",
                         "SAME", "--entry", "dk", "--json")
    assert cli == answer.to_json() and all(e["terms"] is None for e in cli["entries"])
    assert cli["entries"][0]["closed_form"] == "Sum(g[0, i, j, 0]*x[0, -1 + i, -1 + j, 0], (i, 1, 15), (j, 1, 15))"
    text = answer.text().splitlines()
    assert text[0].startswith("every entry of dk (144 entries, 33856 products in all")
    assert text[1] == f"dk[0,0,0,0] = {cli['entries'][0]['closed_form']}  (225 terms)" and len(text) == 145
    latex_rows = answer._repr_latex_().split(" \\\\ ")
    assert len(latex_rows) == 41 and "104 more entries (144 in all)" in latex_rows[-1]
    assert len(Table(answer._repr_html_()).rows) == 1 + 40 + 1
    with pytest.raises(symconv.SymconvError, match="dk has 1152 entries, more than the 1000 listed one by one"):
        symconv.which(ConvSpec("conv2d", "1x16x16x8", "3x3x8x16", padding="SAME"), "dk")


def without_timings(obj):
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def test_reports_json_is_the_cli_json_and_html_is_a_table(capsys):
    impl = str(IMPLS / "founding_bug.py")
    code, cli = cli_json(capsys, "check", *FOUNDING_ARGS, "--impl", impl, "--in-process", "--json")
    report = check(FOUNDING, impl=impl)
    assert code == 1 and without_timings(cli) == without_timings(json.loads(json.dumps(report.to_json())))
    rows = Table(report._repr_html_()).rows
    assert rows[0] == ["quantity", "status", "path", "what was found"]
    assert [r[:2] for r in rows[1:]] == [["forward", "mismatch"], ["filter_grad", "ok"], ["input_grad", "ok"]]
    assert "legacy_eigen" in rows[1][3]
    code, cli = cli_json(capsys, "infer", *FOUNDING_ARGS, "--impl", impl, "--in-process", "--json")
    inferred = infer(FOUNDING, impl=impl)
    assert code == 1 and cli == json.loads(json.dumps(inferred.to_json()))
    rows = Table(inferred._repr_html_()).rows
    assert rows[1][:4] == ["forward", "ok", "-1:-1,-1:-1", "legacy_eigen"]


def test_explanations_in_json_latex_and_html(capsys):
    args = [*FOUNDING_ARGS, "--convention", "legacy_eigen", "--x", "1,2,3,4,5,6,7,8,0", "--k", "10", "--g", "100"]
    code, cli = cli_json(capsys, "explain", *args, "--json")
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    story = explain(spec, x="1,2,3,4,5,6,7,8,0", k="10", g="100")
    assert code == 0 and cli == story.to_json()
    latex = story._repr_latex_()
    assert latex.startswith("$\\begin{aligned} {y}_{0,0,0,0} &= {k}_{0,0,0,0} {x}_{0,1,1,0} = 50 && "
                            "\\text{tf: } {k}_{0,0,0,0} {x}_{0,0,0,0} = 10")
    rows = Table(story._repr_html_()).rows
    assert rows[0] == ["entry", "under legacy_eigen", "under tf (TensorFlow today)"] and len(rows) == 1 + 1 + 1 + 9
    big = explain(ConvSpec("conv2d", "1x8x8x1", "3x3x1x1"), entries=[f"y[0,{i},{j},0]" for i in range(6)
                                                                     for j in range(6)] + ["dk[0,0,0,0]"])
    assert len(Table(big._repr_html_()).rows) == 1 + 36 + 1


def test_explain_answers_the_entries_asked_of_a_large_layer_exactly(capsys):
    asked = ["y[0,0,0,5]", "dk[0,0,1,5]", "dx[0,5,5,0]"]
    story = explain(STEM, entries=asked, k="99999999999999999999999")
    maps = symconv.maps_for(STEM)
    x = np.arange(1, 224 * 224 * 3 + 1).reshape(1, 224, 224, 3)
    y = maps.evaluate("y", x=x, k=np.ones((7, 7, 3, 64), dtype=np.int64))
    assert story.sections["forward"][0]["value"] == int(y[0, 0, 0, 5]) * 99999999999999999999999
    dk = maps.evaluate("dk", x=x, g=np.ones((1, 112, 112, 64), dtype=np.int64))
    assert story.sections["filter_grad"][0] == {"entry": "dk[0,0,1,5]", "value": int(dk[0, 0, 1, 5]),
                                                 "expression": symconv.which(STEM, "dk[0,0,1,5]").closed_text,
                                                 "term_count": 12321}
    assert story.sections["input_grad"][0]["value"] == 576 * 99999999999999999999999
    text = story.text()
    assert "x = [1, 2, 3, 4, 5, 6, 7, 8, ..., 150528]  (150528 values, shape 1x224x224x3)   (default:" in text
    assert "+ ... (12321 terms) = " in text and max(map(len, text.splitlines())) < 1000
    out = story.to_json()
    assert out["tensors"]["x"] is None and "tensors of more than 1000 values are not listed (null)" in out["notes"]
    code, cli = cli_json(capsys, "explain", "conv2d", "--input", "1x224x224x3", "--kernel", "7x7x3x64", "--strides",
                         "2", "--padding", "SAME", "--k", "99999999999999999999999", *[f"--entry={e}" for e in asked],
                         "--json")
    assert cli == json.loads(json.dumps(out))


def test_explain_entries_with_a_backend_compare_only_those_entries():
    spec = ConvSpec("conv2d", "1x16x16x4", "3x3x4x4", strides=2, padding="SAME")
    story = explain(spec, entries=["y[0,7,7,3]", "dx[0,15,15,0]"], backend="numpy")
    assert [(r["quantity"], r["agrees"], len(r["values"])) for r in story.backend["results"]] == \
        [("forward", True, 1), ("input_grad", True, 1)]


@pytest.mark.parametrize("entries,message", [
    (5, "entries must be a list of entries"),
    (["y"], "entries must name single entries"),
    ([], "entries must name 1 to 1000 entries"),
    (["q[0]"], "entry must look like"),
    (["y[0,9,0,0]"], "out of range"),
])
def test_explain_entries_misuse(entries, message):
    with pytest.raises(symconv.SymconvError, match=message):
        explain(FOUNDING, entries=entries)


def test_a_newcomer_sees_both_readings_and_checks_tensorflow_in_three_lines(request):
    """The README's notebook lines, with TensorFlow as the implementation checked."""
    need_backend(request.config, "tf")
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    story = explain(spec, x=[1, 2, 3, 4, 5, 6, 7, 8, 0], k=[10], g=[100], entries=["y[0,0,0,0]", "dk[0,0,0,0]"])
    latex = story._repr_latex_()
    assert "{x}_{0,1,1,0} = 50 && \\text{tf: } {k}_{0,0,0,0} {x}_{0,0,0,0} = 10" in latex
    assert len(story.plot().panels) == 4
    tensorflow = check(ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME"), "tf")
    assert tensorflow.status == "ok", tensorflow.text()
    assert [r.status for r in tensorflow.results] == ["ok", "ok", "ok"]
    assert "padding='SAME'" in tensorflow.text()  # TensorFlow's own SAME, not pads symconv applied
