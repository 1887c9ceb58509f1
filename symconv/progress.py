"""A progress line on stderr for runs that take a while: shown only on a terminal, and only
once a run has gone on for a couple of seconds (tqdm, imported lazily; without it, nothing).

One interface, ``ProgressLine``: ``stage(description)``, ``advance(count)`` and ``close()``, and
a context manager.  ``Progress`` counts (backend calls, cases); ``Ticker`` shows the time spent
on work that is not counted (a proof, a document, many entries).

>>> with Ticker("deriving", enabled=False) as ticker:
...     ticker.stage("checking")
>>> with Progress(False, total=3) as bar:
...     bar.advance(1)
"""

from __future__ import annotations

import sys
import threading
import time

SHOW_AFTER = 2.0   # seconds before a line appears


class ProgressLine:
    """A line on stderr under a changing description; a no-op when stderr is not a terminal
    (``enabled`` None: ask it) or tqdm is not installed."""

    def __init__(self, enabled: bool | None = None, **bar):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        self._options = bar

    def _open(self):
        if self._bar is None and self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                self.enabled = False
                return None
            self._bar = tqdm(file=sys.stderr, leave=False, dynamic_ncols=True, **self._options)
        return self._bar

    def stage(self, description: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(description, refresh=False)

    def advance(self, count: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Progress(ProgressLine):
    """Counts (backend calls, cases) under a changing description."""

    def __init__(self, enabled: bool | None = None, *, total: int | None = None, unit: str = " calls",
                 label: str | None = None, delay: float = SHOW_AFTER):
        super().__init__(enabled, total=total, unit=unit, desc=label, delay=delay)
        self._open()


class Ticker(ProgressLine):
    """The current stage and the time spent, refreshed twice a second until the work ends
    (from ``with`` on)."""

    def __init__(self, description: str, enabled: bool | None = None):
        super().__init__(enabled, total=None, bar_format="{desc} {elapsed}", delay=SHOW_AFTER, desc=description)
        self.description = description
        self._done = threading.Event()
        self._thread = None

    def __enter__(self) -> "Ticker":
        if self._open() is not None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self) -> None:
        start = time.monotonic()
        while not self._done.wait(0.5):
            if time.monotonic() - start >= SHOW_AFTER:
                self._bar.refresh()

    def stage(self, description: str) -> None:
        self.description = description
        super().stage(description)

    def close(self) -> None:
        if self._thread is not None:
            self._done.set()
            self._thread.join()
            self._thread = None
        super().close()


class ProgressRunner:
    """A runner that ticks a Progress for every call it passes on (everything else is the
    wrapped runner's)."""

    def __init__(self, runner, progress: ProgressLine):
        self._runner, self._progress = runner, progress

    def run(self, calls):
        outcomes = self._runner.run(calls)
        self._progress.advance(len(calls))
        return outcomes

    def stage(self, description: str) -> None:
        self._progress.stage(description)

    def __getattr__(self, name):
        return getattr(self._runner, name)
