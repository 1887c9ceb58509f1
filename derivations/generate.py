"""Regenerate every derivation document in this folder, deterministically.

    python derivations/generate.py            write the .tex files here
    python derivations/generate.py --pdf      ... and compile each with pdflatex
    python derivations/generate.py --check    regenerate into a temporary folder and fail,
                                              listing them, if any .tex differs from this folder's
    python derivations/generate.py --check --pdf   ... and compile each fresh .tex, failing if a
                                              .pdf differs from this folder's, byte for byte

Every document is built by ``symconv.latex``, which checks each displayed step before it
writes anything; the same request always gives the same bytes, and so does pdflatex: the
preamble drops dates and build information and fixes the document id.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from symconv import proof
from symconv.latex import generic_document, spec_document
from symconv.model.spec import ConvSpec

HERE = Path(__file__).resolve().parent


def _flat(values) -> str:
    return ",".join(str(int(v)) for v in np.asarray(values).reshape(-1))


def documents() -> dict:
    """name -> a function that returns the document's text."""
    founding = ConvSpec("conv2d", "1x3x3x1", "1x1x1x1", strides=3, padding="SAME", convention="legacy_eigen")
    resnet = ConvSpec("conv2d", "1x224x224x3", "7x7x3x64", strides=2, padding="SAME")
    dilated = ConvSpec("conv2d", "1x7x7x1", "3x3x1x1", dilations=2, padding="SAME")
    depthwise = ConvSpec("depthwise_conv2d", "1x5x5x2", "3x3x2x2", strides=2, padding="SAME")
    transposed = ConvSpec("conv2d_transpose", "1x3x3x2", "3x3x1x2", strides=2, padding="SAME")
    grouped = ConvSpec("conv2d", "1x4x4x4", "3x3x2x4", groups=2, padding="SAME")
    return {
        "founding": lambda: spec_document(
            founding, ["y[0,0,0,0]", "dk[0,0,0,0]"], {"x": "1,2,3,4,5,6,7,8,0", "k": "10", "g": "100"},
            title="The founding case: a 3x3 input, a 1x1 kernel, stride 3, SAME, read two ways"),
        "resnet_stride2": lambda: spec_document(
            resnet, ["y[0,0,0,5]", "y[0,111,111,5]", "dk[0,0,1,5]", "dk[6,6,1,5]", "dx[0,0,0,1]",
                     "dx[0,223,223,1]"],
            title="Stride 2, SAME, asymmetric padding: ResNet-50's first layer (224 input, 7x7 kernel)"),
        "dilated": lambda: spec_document(
            dilated, ["y[0,0,0,0]", "y[0,3,3,0]", "dk[1,1,0,0]", "dx[0,3,3,0]"],
            {"x": _flat(np.arange(1, 50)), "k": _flat(np.arange(1, 10)), "g": _flat(np.arange(1, 50))},
            title="A dilated convolution: 7x7 input, 3x3 kernel, dilation 2, SAME"),
        "depthwise": lambda: spec_document(
            depthwise, ["y[0,1,1,3]", "dk[0,0,1,1]", "dx[0,2,2,1]"],
            {"x": _flat(np.arange(1, 51)), "k": _flat(np.arange(1, 37)), "g": _flat(np.arange(1, 37))},
            title="A depthwise convolution: 5x5 input, 2 channels, multiplier 2, stride 2, SAME"),
        "transposed": lambda: spec_document(
            transposed, ["y[0,2,3,0]", "dk[1,1,0,1]", "dx[0,1,1,1]"],
            {"x": _flat(np.arange(1, 19)), "k": _flat(np.arange(1, 19)), "g": _flat(np.arange(1, 37))},
            title="A transposed convolution: 3x3 input to 6x6 output, 3x3 kernel, stride 2, SAME"),
        "grouped": lambda: spec_document(
            grouped, ["y[0,1,1,3]", "dk[1,1,0,2]", "dx[0,1,1,3]"],
            {"x": _flat(np.arange(1, 65)), "k": _flat(np.arange(1, 73)), "g": _flat(np.arange(1, 65))},
            title="A grouped convolution: 4x4 input, 4 channels in 2 groups, 3x3 kernel, SAME"),
        "generic": lambda: generic_document(proof.facts()),
    }


def write_all(folder: Path, names=None) -> list[Path]:
    """Write the documents (all, or those named) into ``folder``."""
    written = []
    for name, build in documents().items():
        if names and name not in names:
            continue
        path = folder / f"{name}.tex"
        path.write_text(build(), encoding="utf-8")
        written.append(path)
    return written


def compile_pdf(tex: Path, pdf: Path | None = None) -> Path:
    """pdflatex, reproducibly (no dates, fixed document id), leaving only the .pdf (next to the
    .tex unless ``pdf`` says where)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    pdf = pdf or tex.with_suffix(".pdf")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(tex, Path(tmp) / "document.tex")  # the same job name wherever it runs
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "document.tex"],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"pdflatex failed on {tex.name}:\n{done.stdout[-2000:]}")
        shutil.copy(Path(tmp) / "document.pdf", pdf)
    return pdf


def main(argv=None) -> int:
    """The command line: write, write and compile (--pdf), or --check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a regenerated .tex differs from the committed one")
    parser.add_argument("--pdf", action="store_true", help="also compile every .tex with pdflatex")
    parser.add_argument("names", nargs="*", help="only these documents (default: all)")
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = write_all(Path(tmp), args.names)
            differ = [p.name for p in fresh
                      if not (HERE / p.name).exists() or (HERE / p.name).read_bytes() != p.read_bytes()]
            if args.pdf:
                for p in fresh:
                    pdf = compile_pdf(p)
                    if not (HERE / pdf.name).exists() or (HERE / pdf.name).read_bytes() != pdf.read_bytes():
                        differ.append(pdf.name)
        if differ:
            print(f"derivations differ from a fresh regeneration: {', '.join(differ)}\n"
                  f"run: python derivations/generate.py --pdf", file=sys.stderr)
            return 1
        print(f"{len(fresh)} derivations regenerate byte for byte" + (", .tex and .pdf" if args.pdf else ""))
        return 0
    for path in write_all(HERE, args.names):
        if args.pdf:
            compile_pdf(path)
        print(f"wrote {path.relative_to(HERE.parent)}" + (" and .pdf" if args.pdf else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
