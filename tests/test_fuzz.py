"""The fuzz run (tests/fuzz.py) in a child process with a memory limit: Hypothesis drives the
command line and the Python API with hostile sizes, strides, pads, entries, values, claims and
paths, 2,000 examples a run (SYMCONV_FUZZ_EXAMPLES changes it), then sweep, matrix, trace and
port with hostile options, 40 examples (SYMCONV_FUZZ_SURFACES), and finds nothing."""

import os
import subprocess
import sys

import pytest

from .paths import ROOT

MEMORY_LIMIT = 2 * 2**30  # address space of the child (about 300 MB of it after importing numpy and sympy)


def _limit_memory():
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
def test_fuzzing_the_cli_and_the_api_finds_nothing_in_a_memory_limited_child():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "tests.fuzz"], cwd=ROOT, env=env, capture_output=True, text=True,
                          preexec_fn=_limit_memory, timeout=900)
    report = (done.stdout + done.stderr)[-20000:]
    assert done.returncode == 0, report
    examples = int(os.environ.get("SYMCONV_FUZZ_EXAMPLES", "2000"))
    surfaces = int(os.environ.get("SYMCONV_FUZZ_SURFACES", "40"))
    counts = [int(line.split(": ")[1].split()[0]) for line in done.stdout.splitlines() if "examples, nothing" in line]
    assert len(counts) == 3 and sum(counts[:2]) == examples and counts[2] == surfaces, report
