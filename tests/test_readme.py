"""Every `symconv ...` example in README.md runs as written and prints what the README shows.

Examples live in ```console blocks: a line `$ symconv ARGS` followed by the exact output.
(The README's Python examples are doctests, collected by --doctest-glob=README.md.)
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
# Examples that run a framework need it installed.
NEEDS = {"--backend tf": "tensorflow", "--backend tf-xla": "tensorflow", "--backend keras": "keras"}


def examples():
    text = README.read_text()
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for chunk in re.split(r"^(?=\$ )", block, flags=re.M):
            if chunk.startswith("$ "):
                command, _, output = chunk.partition("\n")
                yield command[2:].strip(), output


CASES = list(examples())


def test_readme_has_examples():
    assert len(CASES) >= 3


@pytest.mark.parametrize("command,expected", CASES, ids=[c for c, _ in CASES])
def test_readme_example(command, expected, tmp_path):
    argv = shlex.split(command)
    assert argv[0] == "symconv", "README console examples run symconv"
    for flag, module in NEEDS.items():
        if flag in command:
            pytest.importorskip(module)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "symconv", *argv[1:]], capture_output=True, text=True,
                          timeout=600, env=env, cwd=README.parent)
    got = (proc.stdout + proc.stderr).rstrip()
    assert got == expected.rstrip(), f"exit {proc.returncode}\n{got}"
