"""LaTeX documents: content, checks that refuse to write, determinism, notebook display, the CLI."""

import os
import re
import shutil
import subprocess

import pytest

from symconv import latex, proof
from symconv.cli import main
from symconv.errors import SymconvError
from symconv.model import conventions
from symconv.model.indexmap import maps_for
from symconv.model.spec import ConvSpec
from symconv.proof import StepFailed

FOUNDING = dict(strides=3, padding="SAME", convention="legacy_eigen")
VALUES = {"x": "1,2,3,4,5,6,7,8,0", "k": "10", "g": "100"}


@pytest.fixture(scope="module")
def founding_tex():
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", **FOUNDING)
    return latex.spec_document(spec, ["y[0,0,0,0]", "dk[0,0,0,0]"], VALUES)


def test_founding_document_shows_padding_both_readings_and_the_numbers(founding_tex):
    tex = founding_tex
    assert "\\operatorname{trunc}\\!\\left(\\frac{-2}{2}\\right) = -1" in tex      # legacy_eigen
    assert "= \\max\\left(-2,\\ 0\\right) \\\\\n&= 0 \\\\" in tex                       # tf, clamped
    assert "y_{0,0,0,0} &= x_{0,\\,1,\\,1,\\,0} k_{0,\\,0,\\,0,\\,0}" in tex
    assert "&= 5 \\cdot 10" in tex and "&= 50" in tex
    assert "$x_{0,0,0,0}$ $= 100$" in tex                                          # tf's dk, side by side
    assert "which $y_{0,0,0,0}$ never read" in tex and "TensorFlow 1.x" in tex


def test_symbols_are_typeset_not_python_names(founding_tex):
    assert "x[" not in founding_tex.split("\\begin{document}")[1].replace("\\texttt", "")
    assert "c_{i}" in founding_tex and "\\delta_{a,\\,a'}" in founding_tex
    assert "\\frac{\\partial L}{\\partial k_{a',\\,b',\\,c'_{i},\\,c'_{o}}}" in founding_tex


def test_documents_are_deterministic(founding_tex):
    spec = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", **FOUNDING)
    assert latex.spec_document(spec, ["y[0,0,0,0]", "dk[0,0,0,0]"], VALUES) == founding_tex


def test_asymmetric_padding_and_large_entries_use_compact_sums():
    spec = ConvSpec("conv2d", "1x20x20x1", "7x7x1x2", strides=2, padding="SAME")
    tex = latex.spec_document(spec, ["dk[0,0,0,1]", "y[0,9,9,1]"])
    assert "p_{\\mathrm{before}} &= \\left\\lfloor \\frac{T}{2} \\right\\rfloor = \\left\\lfloor \\frac{5}{2} \\right\\rfloor = 2" in tex
    assert "= 5 - \\left\\lfloor \\frac{5}{2} \\right\\rfloor = 5 - 2 = 3" in tex
    assert "\\sum_{i=1}^{9}" in tex


def test_a_padding_step_that_sympy_cannot_confirm_is_not_written(monkeypatch):
    good = conventions.REGISTRY["tf"]

    class Shifted(conventions.Convention):  # the registry's numbers, moved by one pixel
        def __call__(self, *args):
            r = super().__call__(*args)
            return conventions.Resolved(r.out, r.before + 1, r.after - 1) if r.after else r

    monkeypatch.setitem(conventions.REGISTRY, "tf", Shifted("tf", good.function, good.citation))
    spec = ConvSpec("conv1d", "1x17x1", "2x1x1", strides=1, padding="SAME")
    try:
        with pytest.raises(StepFailed, match=r"step 'padding, axis 0' failed: SymPy's evaluation of the tf rule gives "
                                             r"\(out, before, after\) = \(17, 0, 1\), the registry's numbers "
                                             r"\(17, 1, 0\)"):
            latex.spec_document(spec, ["y[0,0,0]"])
    finally:
        maps_for.cache_clear()


def test_padding_displays_say_what_was_checked():
    spec = ConvSpec("conv1d", "1x5x1", "2x1x1", strides=2, padding="SAME", convention="torch")
    doc = latex.build_spec_document(spec, compare="tf")
    assert "padding of axis 0: SymPy's evaluation of the torch rule equals the registry's numbers and the " \
           "spec's pads" in doc.checks
    tex = doc.render()
    assert "p &= \\left\\lfloor \\frac{d \\left(k - 1\\right)}{2} \\right\\rfloor" in tex
    explicit = latex.build_spec_document(ConvSpec("conv1d", "1x5x1", "2x1x1", padding=((1, -1),)))
    assert "padding of axis 0: the number of windows, by SymPy, equals the spec's output size" in explicit.checks


def test_grouped_convolutions_are_derived_not_refused():
    spec = ConvSpec("conv2d", "1x4x4x4", "3x3x2x4", groups=2, padding="SAME")
    tex = latex.spec_document(spec, ["dk[0,0,1,3]", "dx[0,1,1,2]"], {"x": ",".join(map(str, range(1, 65)))})
    assert "With 2 groups, channels are counted per group" in tex
    assert "(split)" in tex and "G = 2" in tex


def test_values_beyond_64_bits_are_exact():
    spec = ConvSpec("conv1d", "1x3x1", "2x1x1")
    big = 2**70
    doc = latex.build_spec_document(spec, ["y[0,0,0]"], {"x": f"{big},1,2", "k": f"{big},3"})
    assert f"&= {big * big + 3}" in doc.render()
    assert any("an independent exact evaluation" in c for c in doc.checks)
    with pytest.raises(SymconvError, match="may have at most 1000 digits"):
        latex.spec_document(spec, ["y[0,0,0]"], {"x": "9" * 5000 + ",1,2"})


def test_an_entry_whose_closed_form_disagrees_with_the_maps_is_not_written(monkeypatch):
    real = proof.actual_terms
    monkeypatch.setattr(proof, "actual_terms", lambda *a: {**real(*a), (("g", (9,)),): 1})
    spec = ConvSpec("conv1d", "1x5x1", "3x1x1")
    with pytest.raises(StepFailed, match=r"step 'closed form at dk\[0,0,0\]' failed"):
        latex.spec_document(spec, ["dk[0,0,0]"])


@pytest.mark.parametrize("kwargs, message", [
    ({"entries": ["dk"]}, r"--entry needs indices, e.g. dk\[0,0,0\]"),
    ({"values": {"x": "1,2"}}, r"x needs 5 values \(shape 1x5x1, row-major\), got 2"),
    ({"values": {"x": "1,a,3,4,5"}}, "x values must be numbers, got 'a'"),
    ({"values": {"x": "1/2"}}, "x values in a derivation document must be integers, got 1/2"),
    ({"compare": "tf"}, "--compare-convention needs padding SAME"),
])
def test_bad_requests_are_one_error(kwargs, message):
    with pytest.raises(SymconvError, match=message):
        latex.spec_document(ConvSpec("conv1d", "1x5x1", "3x1x1"), **kwargs)


def test_text_is_escaped_for_latex():
    assert latex.tex_escape("legacy_eigen <= 100% {a}") == r"legacy\_eigen $\le$ 100\% $\{$a$\}$"


def test_objects_render_as_latex_in_notebooks():
    result = proof.derive(proof.symbolic_geometry("conv", 1, full=False))
    assert result._repr_latex_().startswith("$$\\begin{aligned}y_{i} &= \\sum_{a=0}^{K_{W} - 1}")
    assert "\\text{sift the deltas (dk)}" in result.derivations["filter_grad"]._repr_latex_()
    assert result.closed["input_grad"]._repr_latex_().startswith("$$\\begin{aligned}dx_{w} &=")
    claim = proof.prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+D*a-P]", bound=1)
    assert "\\text{(proven for all sizes)}" in claim._repr_latex_()
    assert repr(claim) == claim.text() and claim.text().startswith("claim: dk[a] = ")
    term = result.closed["filter_grad"].terms[0]
    assert term._repr_latex_().startswith("$\\displaystyle \\sum_{i=0}^{O_{W} - 1}")


def test_generic_document_lists_proven_and_checked_facts():
    tex = latex.generic_document(proof.facts(bound=1))
    assert "\\texttt{same-tf} --- \\textbf{proven for all sizes}" in tex
    assert "\\texttt{dk-closed-form} --- \\textbf{proven for all sizes, assuming a stated lemma}" in tex
    assert "\\item assuming: separability" in tex
    assert "\\texttt{index-maps-vs-reference} --- \\textbf{checked only, no proof}" in tex
    assert "\\tilde g" in tex


def test_latex_command_writes_a_file(tmp_path, capsys):
    out = tmp_path / "founding.tex"
    code = main(["latex", "conv2d", "--input", "1x3x3x1", "--kernel", "1x1x1x1", "--strides", "3", "--padding", "SAME",
                 "--convention", "legacy_eigen", "--entry", "y[0,0,0,0]", "--x", VALUES["x"], "--k", "10",
                 "-o", str(out)])
    assert code == 0 and re.search(r": 21 checked displays and tables, 1 definition \(stated, not checked\)$",
                                   capsys.readouterr().out.strip())
    assert out.read_text().startswith("\\documentclass[11pt]{article}")


def test_latex_command_bad_values_exit_2(capsys):
    code = main(["latex", "conv1d", "--input", "1x5x1", "--kernel", "3x1x1", "--x", "1,2,3"])
    assert code == 2 and "x needs 5 values" in capsys.readouterr().err


def test_latex_command_takes_integers_beyond_64_bits(tmp_path, capsys):
    out = tmp_path / "big.tex"
    code = main(["latex", "conv1d", "--input", "1x3x1", "--kernel", "1x1x1", "--entry", "y[0,2,0]",
                 "--x", f"1,2,{2**80}", "--k", f"{3**60}", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert f"&= {2**80 * 3**60}" in out.read_text()


def test_a_small_document_compiles_with_pdflatex(tmp_path):
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMCONV_REQUIRE_PDFLATEX"):
            pytest.fail("SYMCONV_REQUIRE_PDFLATEX is set but pdflatex is not installed")
        pytest.skip("pdflatex is not installed")
    spec = ConvSpec("conv1d", "1x4x1", "2x1x1", strides=2, padding="SAME")
    (tmp_path / "small.tex").write_text(latex.spec_document(spec, ["dk[1,0,0]"], {"x": "1,2,3,4", "g": "5,6"}))
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "small.tex"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-1500:]
    assert (tmp_path / "small.pdf").stat().st_size > 1000


def test_every_result_type_has_one_text_and_one_latex_rendering():
    from symconv import display
    spec = ConvSpec("conv1d", "1x4x1", "2x1x1")
    doc_reading = latex.read_entry(spec, proof.derive(proof.spec_geometry(spec)), "filter_grad", (0, 0, 0), None)
    result = proof.derive(proof.symbolic_geometry("conv", 1, full=False))
    refuted = proof.prove_claim("dk[a] = sum(i=0..OH-1) g[i]*x[S*i+a-P]", bound=2)
    report = proof.facts(bound=1)
    objects = [result, result.closed["filter_grad"], result.derivations["filter_grad"], result.closed["filter_grad"].terms[0],
               refuted, refuted.counterexample, report, report.facts[0], report.facts[0].checks[0], doc_reading]
    for obj in objects:
        assert display.renderer("text", obj)(obj) and display.renderer("latex", obj)(obj), type(obj).__name__
    assert doc_reading.text() == "dk[0,0,0] = g[0,0,0]*x[0,0,0] + g[0,1,0]*x[0,1,0] + g[0,2,0]*x[0,2,0]"
    assert "claimed \\texttt{g[0]*x[0]}" in display.show("latex", refuted.counterexample)
