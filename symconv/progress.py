"""A progress line on stderr for runs that take a while: shown only on a terminal, and only
once a run has gone on for a couple of seconds (tqdm, imported lazily; without it, nothing)."""

from __future__ import annotations

import sys

SHOW_AFTER = 2.0   # seconds before a line appears


class Progress:
    """Counts backend calls under a changing description; a no-op when stderr is not a
    terminal or tqdm is not installed."""

    def __init__(self, enabled: bool | None = None, *, total: int | None = None, unit: str = " calls",
                 label: str | None = None, delay: float = SHOW_AFTER):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, unit=unit, desc=label, delay=delay, file=sys.stderr, leave=False,
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


class Ticker:
    """A progress line for work that is not counted in calls (a proof, a document, many
    entries): after ``SHOW_AFTER`` seconds, on a terminal, with tqdm installed, it shows the
    current stage and the time spent, refreshed twice a second until the work ends.

    >>> with Ticker("deriving", enabled=False) as ticker:
    ...     ticker.stage("checking")
    """

    def __init__(self, description: str, enabled: bool | None = None):
        self.description = description
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = self._thread = None
        self._done = None

    def __enter__(self) -> "Ticker":
        if not self.enabled:
            return self
        try:
            from tqdm import tqdm
        except ImportError:
            return self
        import threading
        self._bar = tqdm(total=None, bar_format="{desc} {elapsed}", delay=SHOW_AFTER, file=sys.stderr,
                         leave=False, dynamic_ncols=True, desc=self.description)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()
        return self

    def _tick(self) -> None:
        import time
        start = time.monotonic()
        while not self._done.wait(0.5):
            if time.monotonic() - start >= SHOW_AFTER:
                self._bar.refresh()

    def stage(self, description: str) -> None:
        self.description = description
        if self._bar is not None:
            self._bar.set_description_str(description, refresh=False)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._done.set()
            self._thread.join()
            self._bar.close()
            self._bar = None
