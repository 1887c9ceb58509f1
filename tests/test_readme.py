"""Every `symconv ...` example in README.md runs as written, prints what the README shows and
exits as the README says.

Examples live in ```console blocks: a line `$ symconv ARGS` followed by the exact output.  An
example that exits with a status other than 0 ends with a line `[exit N]`; one without that
line must exit 0.  (The README's Python examples are doctests, collected by
--doctest-glob=README.md.)
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

from .conftest import need_backend
from .paths import EXAMPLES, README

EXIT = re.compile(r"\n?\[exit (\d+)\]\n*\Z")


def examples():
    """(command, expected output, expected exit status) of every console example."""
    text = README.read_text()
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for chunk in re.split(r"^(?=\$ )", block, flags=re.M):
            if chunk.startswith("$ "):
                command, _, output = chunk.partition("\n")
                status = EXIT.search(output)
                yield command[2:].strip(), EXIT.sub("", output), int(status.group(1)) if status else 0


CASES = list(examples())


def test_readme_has_examples():
    assert len(CASES) >= 3


def test_exit_markers_are_read():
    assert EXIT.sub("", "REFUTED\n[exit 1]\n") == "REFUTED" and EXIT.search("ok\n") is None
    assert any(status == 1 for _, _, status in CASES) and any(status == 2 for _, _, status in CASES)


@pytest.mark.parametrize("command,expected,status", CASES, ids=[c for c, _, _ in CASES])
def test_readme_example(command, expected, status, tmp_path, request):
    argv = shlex.split(command)
    assert argv[0] == "symconv", "README console examples run symconv"
    if "--backend" in argv:
        need_backend(request.config, argv[argv.index("--backend") + 1])
    if argv[1] == "port":   # verified where both frameworks are installed: the output says so
        from symconv.porting import FRAMEWORKS
        for option in ("--from", "--to"):
            need_backend(request.config, FRAMEWORKS[argv[argv.index(option) + 1]].backend)
    # Run where a reader would, with the repository's examples/ at hand, but write nowhere in it.
    (tmp_path / "examples").symlink_to(EXAMPLES)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "symconv", *argv[1:]], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tmp_path)
    got = (proc.stdout + proc.stderr).rstrip()
    assert got == expected.rstrip(), f"exit {proc.returncode}\n{got}"
    assert proc.returncode == status, f"exit {proc.returncode}, the README says {status}"


def test_readme_impl_example_is_the_committed_file():
    block = re.search(r"`examples/good_numpy.py`:\n\n```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    assert block == (EXAMPLES / "good_numpy.py").read_text()
