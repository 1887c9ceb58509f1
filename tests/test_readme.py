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

from .conftest import need_backend

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


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
def test_readme_example(command, expected, tmp_path, request):
    argv = shlex.split(command)
    assert argv[0] == "symconv", "README console examples run symconv"
    if "--backend" in argv:
        need_backend(request.config, argv[argv.index("--backend") + 1])
    # Run where a reader would, with the repository's examples/ at hand, but write nowhere in it.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "symconv", *argv[1:]], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tmp_path)
    got = (proc.stdout + proc.stderr).rstrip()
    assert got == expected.rstrip(), f"exit {proc.returncode}\n{got}"


def test_readme_impl_example_is_the_committed_file():
    block = re.search(r"```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    assert block == (ROOT / "examples" / "good_numpy.py").read_text()
