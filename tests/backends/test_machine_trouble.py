"""Machine trouble is not a finding: a backend's child process killed by the system (SIGKILL, as
the out-of-memory killer sends) while it starts is started once more; a second such death makes
the backend's calls "could not run" (skipped: nothing checked, exit status 3), never an error
about the implementation.  A death of any other kind while loading stays the backend's error."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from symconv import ConvSpec, check
from symconv.backends.numpy_backend import NumpyBackend
from symconv.backends.runner import COULD_NOT_RUN, ChildRunner

SPEC = ConvSpec("conv2d", "1x4x4x1", "3x3x1x2", padding="SAME")


class DiesWhileLoading(NumpyBackend):
    """The loop reference, whose load kills its own process with ``signal_number`` as long as the
    marker file holds fewer than ``deaths`` lines (one line per death)."""

    name = "dies-while-loading"

    def __init__(self, marker: Path, deaths: int, signal_number: int = signal.SIGKILL):
        super().__init__()
        self.marker, self.deaths, self.signal_number = str(marker), deaths, int(signal_number)

    def load(self):
        marker = Path(self.marker)
        died = len(marker.read_text().splitlines()) if marker.exists() else 0
        if died < self.deaths:
            with marker.open("a") as out:
                out.write("died\n")
            os.kill(os.getpid(), self.signal_number)


def _deaths(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def test_a_child_killed_by_the_system_while_starting_is_started_once_more(tmp_path):
    marker = tmp_path / "deaths"
    with ChildRunner(DiesWhileLoading(marker, deaths=1), timeout=60) as runner:
        report = check(SPEC, runner=runner)
        assert report.status == "ok", report.text()
        assert runner.restarts == 1
    assert _deaths(marker) == 1


def test_killed_twice_while_starting_is_could_not_run_and_nothing_checked(tmp_path):
    marker = tmp_path / "deaths"
    with ChildRunner(DiesWhileLoading(marker, deaths=5), timeout=60) as runner:
        report = check(SPEC, runner=runner)
        assert _deaths(marker) == 2   # the first start and one more, then no further tries
        again = check(SPEC, runner=runner)
    assert _deaths(marker) == 2
    for done in (report, again):
        assert done.status == "skipped" and done.exit_status == 3, done.text()
        for result in done.results:
            assert result.status == "skipped"
            assert result.message.startswith(f"{COULD_NOT_RUN}: backend process died with signal SIGKILL while "
                                             f"starting"), result.message
            assert "twice (killed by the system, not by symconv" in result.message


def test_a_crash_while_loading_stays_the_backends_error_and_is_not_retried(tmp_path):
    marker = tmp_path / "deaths"
    with ChildRunner(DiesWhileLoading(marker, deaths=5, signal_number=signal.SIGSEGV), timeout=60) as runner:
        report = check(SPEC, runner=runner)
    assert _deaths(marker) == 1
    assert report.status == "error" and report.exit_status == 1
    assert all(r.status == "error" and "backend failed to load: backend process died with signal SIGSEGV while "
               "starting" in r.message for r in report.results), report.text()
