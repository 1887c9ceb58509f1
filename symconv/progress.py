"""A progress line on stderr for runs that take a while: shown only on a terminal, and only
once a run has gone on for a couple of seconds (tqdm, imported lazily; without it, nothing)."""

from __future__ import annotations

import sys

SHOW_AFTER = 2.0   # seconds before a line appears


class Progress:
    """Counts backend calls under a changing description; a no-op when stderr is not a
    terminal or tqdm is not installed."""

    def __init__(self, enabled: bool | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=None, unit=" calls", delay=SHOW_AFTER, file=sys.stderr, leave=False,
                             dynamic_ncols=True)

    def stage(self, description: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(description, refresh=False)

    def advance(self, calls: int) -> None:
        if self._bar is not None:
            self._bar.update(calls)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ProgressRunner:
    """A runner that ticks a Progress for every call it passes on (everything else is the
    wrapped runner's)."""

    def __init__(self, runner, progress: Progress):
        self._runner, self._progress = runner, progress

    def run(self, calls):
        outcomes = self._runner.run(calls)
        self._progress.advance(len(calls))
        return outcomes

    def stage(self, description: str) -> None:
        self._progress.stage(description)

    def __getattr__(self, name):
        return getattr(self._runner, name)
