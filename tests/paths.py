"""The folders the tests read, from one place: the tests sit in one package per stage, at
different depths, and name the repository's files through these constants."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent                       # the repository
PACKAGE = ROOT / "symconv"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
DERIVATIONS = ROOT / "derivations"
IMPLS = TESTS / "impls"                   # implementations with planted bugs, and correct ones
HOSTILE = TESTS / "hostile_impls"         # implementations that misbehave as processes and values
