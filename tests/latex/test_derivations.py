"""The committed derivations: present, indexed, and what the code produces now, .tex and .pdf
byte for byte."""

import importlib.util
import os
import shutil

import pytest

from ..paths import DERIVATIONS


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("derivations_generate", DERIVATIONS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def need_pdflatex():
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMCONV_REQUIRE_PDFLATEX"):
            pytest.fail("SYMCONV_REQUIRE_PDFLATEX is set but pdflatex is not installed")
        pytest.skip("pdflatex is not installed")


def test_every_document_is_committed_as_tex_and_pdf_and_indexed(generate):
    index = (DERIVATIONS / "README.md").read_text()
    for name in generate.documents():
        assert (DERIVATIONS / f"{name}.tex").read_text().startswith("\\documentclass")
        assert (DERIVATIONS / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert f"`{name}.tex`" in index


DOCUMENTS = ["founding", "resnet_stride2", "dilated", "depthwise", "transposed", "grouped", "generic"]


def test_the_list_of_documents_is_complete(generate):
    assert sorted(generate.documents()) == sorted(DOCUMENTS)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_committed_tex_is_what_the_code_produces(generate, name, capsys):
    assert generate.main(["--check", name]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", DOCUMENTS)
def test_committed_pdf_is_what_pdflatex_makes_of_the_committed_tex(generate, name, tmp_path):
    need_pdflatex()
    pdf = generate.compile_pdf(DERIVATIONS / f"{name}.tex", tmp_path / f"{name}.pdf")
    assert pdf.read_bytes() == (DERIVATIONS / f"{name}.pdf").read_bytes(), \
        f"{name}.pdf is stale: run python derivations/generate.py --pdf {name}"


def test_pdfs_carry_no_date_and_a_fixed_id():
    data = (DERIVATIONS / "founding.pdf").read_bytes()
    assert b"/CreationDate" not in data and b"/ModDate" not in data and b"PTEX.Fullbanner" not in data


def test_check_mode_names_a_document_that_differs(generate, tmp_path, monkeypatch, capsys):
    (tmp_path / "founding.tex").write_text("stale")
    monkeypatch.setattr(generate, "HERE", tmp_path)
    assert generate.main(["--check", "founding"]) == 1
    assert "derivations differ from a fresh regeneration: founding.tex" in capsys.readouterr().err


def test_check_mode_with_pdf_names_a_stale_pdf(generate, tmp_path, monkeypatch, capsys):
    need_pdflatex()
    shutil.copy(DERIVATIONS / "founding.tex", tmp_path / "founding.tex")
    (tmp_path / "founding.pdf").write_bytes(b"%PDF-1.5 stale")
    monkeypatch.setattr(generate, "HERE", tmp_path)
    assert generate.main(["--check", "--pdf", "founding"]) == 1
    assert "derivations differ from a fresh regeneration: founding.pdf" in capsys.readouterr().err


def test_the_founding_document_shows_both_readings():
    tex = (DERIVATIONS / "founding.tex").read_text()
    assert "Side by side: \\texttt{legacy\\_eigen} and \\texttt{tf}" in tex
    assert "&= 100 \\cdot 5" in tex and "$x_{0,0,0,0}$ $= 100$" in tex
    assert "This is what TensorFlow 1.x's CPU kernels did in 2017" in tex


def test_the_grouped_document_derives_per_group():
    tex = (DERIVATIONS / "grouped.tex").read_text()
    assert "(split)" in tex and "c_{o} + 2 q" in tex
