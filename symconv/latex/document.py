"""A LaTeX document that is written only after every check it was given has passed."""

from __future__ import annotations

from ..proof import StepFailed

# Plain pdflatex with amsmath and geometry.  The pdfTeX lines make the PDF reproducible: no
# dates, no build information, a fixed document id (other engines skip them).
PREAMBLE = r"""\documentclass[11pt]{article}
\ifdefined\pdftrailerid\pdftrailerid{symconv}\fi
\ifdefined\pdfinfoomitdate\pdfinfoomitdate=1\fi
\ifdefined\pdfsuppressptexinfo\pdfsuppressptexinfo=-1\fi
\usepackage[margin=2cm]{geometry}
\usepackage{amsmath}
\allowdisplaybreaks
\renewcommand{\labelitemi}{$\bullet$}
\renewcommand{\labelitemii}{$\circ$}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6em}
"""


class Document:
    """Sections of text and displays; rendered only after every check it was given passed."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.checks: list[str] = []       # what was verified, one line per checked display or table
        self.definitions: list[str] = []  # displays that state a definition: nothing to verify

    def section(self, title: str):
        self.parts.append(f"\\section{{{title}}}")

    def text(self, tex: str):
        self.parts.append(tex)

    def math(self, tex: str, checked: str | None):
        """A display; ``checked`` says what was verified before it was added, None that the
        display states a definition."""
        self.parts.append(tex)
        if checked is None:
            self.definitions.append(tex)
        else:
            self.checks.append(checked)

    def summary(self) -> str:
        """What was checked, in numbers: ``21 checked displays and tables, 2 definitions``."""
        definitions = len(self.definitions)
        return (f"{len(self.checks)} checked displays and tables, {definitions} "
                f"definition{'s' if definitions != 1 else ''} (stated, not checked)")

    def render(self) -> str:
        body = "\n\n".join(self.parts)
        return (f"{PREAMBLE}\\title{{{self.title}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n\n{body}\n\n"
                f"\\end{{document}}\n")


def require(step: str, ok: bool, why: str = ""):
    """Raise StepFailed naming the step unless ``ok``: nothing is written past a failed check."""
    if not ok:
        raise StepFailed(f"step '{step}' failed{': ' + why if why else ''}")
