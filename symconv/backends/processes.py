"""A worker's whole process tree: found through /proc, stopped together.

A backend may start processes that leave the worker's process group and session (``setsid``,
a daemon's double fork), so that stopping the group misses them.  The worker is therefore a
child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): an orphan among its descendants is
reparented to the worker instead of to init, and stays findable by walking the parent links
of ``/proc/*/stat`` down from the worker's pid.  ``kill_tree`` kills every descendant found and
every process group seen among them, pass after pass until none is left running (a process
forked between two passes, or adopted by the worker when its parent was killed, is caught on
the next), while the worker itself still runs.  Elsewhere (no /proc) it does nothing, and
stopping the worker's process group is what remains.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
KILL_SECONDS = 2.0   # how long kill_tree goes on finding and killing descendants


def become_subreaper() -> bool:
    """Adopt the orphans among this process's descendants (Linux); whether that took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def process_table() -> dict:
    """pid -> (parent pid, process group, state letter) of every process /proc shows."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                data = stat.read()
        except OSError:  # it ended meanwhile
            continue
        fields = data[data.rfind(b")") + 2:].split()  # the name, in parentheses, may hold anything
        try:
            table[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode("ascii", "replace"))
        except (IndexError, ValueError):
            continue
    return table


def descendants(root: int, table: dict | None = None) -> dict:
    """pid -> (process group, state) of every descendant of ``root`` (not root itself)."""
    table = process_table() if table is None else table
    children = collections.defaultdict(list)
    for pid, (parent, _, _) in table.items():
        children[parent].append(pid)
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found and child != root:
                found[child] = table[child][1:]
                todo.append(child)
    return found


def kill_tree(root: int, seconds: float = KILL_SECONDS) -> int:
    """SIGKILL every running descendant of ``root`` and every process group seen among them
    (never this process's own group); how many processes were killed.  Root is left running."""
    own_group = os.getpgrp()
    killed, groups = set(), set()
    end = time.monotonic() + seconds
    while True:
        running = {pid: group for pid, (group, state) in descendants(root).items() if state not in ("Z", "X")}
        if not running:
            break
        for pid, group in running.items():
            _signal(os.kill, pid)
            killed.add(pid)
            if group > 1 and group != own_group and group != root:
                groups.add(group)
        for group in groups:
            _signal(os.killpg, group)
        if time.monotonic() > end:
            break
        time.sleep(0.005)
    return len(killed)


def _signal(send, target: int) -> None:
    try:
        send(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
