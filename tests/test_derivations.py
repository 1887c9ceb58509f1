"""The committed derivations: present, indexed, and what the code produces now."""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parent.parent / "derivations"


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("derivations_generate", FOLDER / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_document_is_committed_as_tex_and_pdf_and_indexed(generate):
    index = (FOLDER / "README.md").read_text()
    for name in generate.documents():
        assert (FOLDER / f"{name}.tex").read_text().startswith("\\documentclass")
        assert (FOLDER / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert f"`{name}.tex`" in index


DOCUMENTS = ["founding", "resnet_stride2", "dilated", "depthwise", "transposed", "generic"]


def test_the_list_of_documents_is_complete(generate):
    assert sorted(generate.documents()) == sorted(DOCUMENTS)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_committed_tex_is_what_the_code_produces(generate, name, capsys):
    assert generate.main(["--check", name]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("name", DOCUMENTS)
def test_committed_tex_compiles_with_pdflatex(name, tmp_path):
    if shutil.which("pdflatex") is None:
        if os.environ.get("SYMCONV_REQUIRE_PDFLATEX"):
            pytest.fail("SYMCONV_REQUIRE_PDFLATEX is set but pdflatex is not installed")
        pytest.skip("pdflatex is not installed")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"-output-directory={tmp_path}",
                           str(FOLDER / f"{name}.tex")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_check_mode_names_a_document_that_differs(generate, tmp_path, monkeypatch, capsys):
    (tmp_path / "founding.tex").write_text("stale")
    monkeypatch.setattr(generate, "HERE", tmp_path)
    assert generate.main(["--check", "founding"]) == 1
    assert "derivations differ from a fresh regeneration: founding.tex" in capsys.readouterr().err


def test_the_founding_document_shows_both_readings():
    tex = (FOLDER / "founding.tex").read_text()
    assert "Side by side: \\texttt{legacy\\_eigen} and \\texttt{tf}" in tex
    assert "&= 100 \\cdot 5" in tex and "$x_{0,0,0,0}$ $= 100$" in tex
