"""CPU seconds and resident memory of one process tree (a kernel and the processes it started), read cheaply.

The process-scope CPU and RAM models read these at every sampler tick, next to a cell that may hold the GIL in a
pure-Python loop. Every file read releases the GIL and must win it back from the cell, so a tick's cost is set
by the number of such calls more than by the work. What one tick costs here, for this process with no child
processes (the common notebook case):

* CPU: ``time.process_time()`` (this process at nanosecond resolution) and ``os.times()`` (children it has
  reaped): two clock reads that do not release the GIL;
* RSS: one ``os.pread`` of ``/proc/self/statm`` through a descriptor kept open (one GIL-releasing call);
* each live descendant adds one read of ``/proc/<pid>/stat`` (CPU) or ``/proc/<pid>/statm`` (RSS).

Finding the descendants means reading ``/proc/<pid>/task/<tid>/children`` for every thread of every process of
the tree (an ipykernel has about ten threads: ~0.2 ms, 70–87 % of a tick before this module existed, issue 16).
A process with no child at all is recognised with one ``waitid`` call (:func:`has_children`) and not walked.
Otherwise a :class:`ProcessTree` walks the tree at most every :data:`REFRESH_S` seconds, plus whenever
:meth:`ProcessTree.refresh` is called — the sampler calls it before each cell's boundary reads, so the start
and end of every cell see the exact set of processes. Nothing is lost in between: the CPU figures are
cumulative, so a child found up to 2 s late brings its whole CPU time with it, and a child that exits in
between is reaped into its parent's ``children_*`` times, which are read at every tick.

Linux reads ``/proc`` directly (the fields ``psutil.Process.cpu_times`` and ``memory_info().rss`` read);
other systems use psutil.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable

REFRESH_S = 2.0
"""Longest time between two walks of the process tree during a cell (the boundary reads always walk)."""

_LINUX = sys.platform.startswith("linux")
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_from_proc(pid: int) -> list[int] | None:
    """Direct children of ``pid`` from ``/proc/<pid>/task/<tid>/children`` (Linux with CONFIG_PROC_CHILDREN,
    the default on major distributions). ``None`` when those files do not exist."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None if pid == os.getpid() else []
    out: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                out.extend(int(c) for c in fh.read().split())
        except FileNotFoundError:
            if os.path.isdir(f"/proc/{pid}/task/{tid}"):
                return None  # the thread is there but the file is not: kernel without CONFIG_PROC_CHILDREN
            continue  # the thread (or the whole process) exited meanwhile
        except OSError:
            continue
    return out


def descendant_pids(pid: int | None = None) -> list[int]:
    """PIDs of all live descendants of ``pid`` (default: this process), walked now.

    Linux: ``/proc/<pid>/task/*/children`` (about 0.02 ms per thread, against 1.5 ms or more for scanning every
    process in /proc); elsewhere, or when those files are missing, ``psutil.children``.
    """
    pid = os.getpid() if pid is None else int(pid)
    if _LINUX:
        found: list[int] = []
        seen = {pid}
        stack = [pid]
        while stack:
            kids = _children_from_proc(stack.pop())
            if kids is None:
                break
            kids = [k for k in kids if k not in seen]
            seen.update(kids)
            found.extend(kids)
            stack.extend(kids)
        else:
            return found
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def has_children() -> bool | None:
    """Whether this process has any child process (live or not yet reaped), asked with one ``waitid`` that
    neither waits nor reaps (``WNOHANG | WNOWAIT``); ``None`` where that cannot be asked. ECHILD means none,
    so the tree walk can be skipped: the common notebook case costs one system call instead of a file per
    thread."""
    waitid = getattr(os, "waitid", None)
    if waitid is None or not hasattr(os, "WNOWAIT"):
        return None
    try:
        waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    except OSError:
        return None
    return True


def _stat_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid`` in clock ticks, from /proc/<pid>/stat (fields 14–17)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
        text = fh.read()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return sum(int(x) for x in fields[11:15])


def _statm_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * _PAGE


def _own_cpu_seconds() -> float:
    """This process at nanosecond resolution (/proc moves in 10-ms ticks: most 1–5 ms cells would read 0) and the
    children it has reaped, from ``os.times()`` (kept by the kernel in ticks). Neither call releases the GIL."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _cpu_seconds(pid: int, kids: list[int]) -> float:
    if _LINUX:
        if pid == os.getpid():
            own_s, ticks = _own_cpu_seconds(), 0
        else:
            own_s, ticks = 0.0, _stat_ticks(pid)
        for kid in kids:
            try:
                ticks += _stat_ticks(kid)
            except (OSError, ValueError):  # exited meanwhile: its time shows up in its parent's cutime
                pass
        return own_s + ticks / _CLK_TCK
    import psutil

    total = 0.0
    for i, p in enumerate([pid, *kids]):
        try:
            t = psutil.Process(p).cpu_times()
        except psutil.Error:
            if i == 0:
                raise
            continue
        total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
    return total


def process_tree_cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of process ``pid`` (default: this one), the children it has reaped
    (``children_user``/``children_system``) and all live descendants (each with its own reaped children),
    walking the tree now. :class:`ProcessTree` does the same with the walk cached.

    When a live child exits and is reaped its time moves from the live sum into the parent's
    ``children_*`` fields, so the total stays continuous.
    """
    pid = os.getpid() if pid is None else int(pid)
    return _cpu_seconds(pid, descendant_pids(pid))


def process_tree_rss_bytes(pid: int | None = None) -> int:
    """Resident set size in bytes of process ``pid`` (default: this one) plus its live descendants, walked now."""
    pid = os.getpid() if pid is None else int(pid)
    return _rss_bytes(pid, descendant_pids(pid), None)


def _rss_bytes(pid: int, kids: list[int], own_fd: "_StatmFd | None") -> int:
    if _LINUX:
        total = own_fd.read_rss_bytes() if own_fd is not None else _statm_rss_bytes(pid)
        for kid in kids:
            try:
                total += _statm_rss_bytes(kid)
            except (OSError, ValueError, IndexError):
                pass
        return total
    import psutil

    total = 0
    for i, p in enumerate([pid, *kids]):
        try:
            total += psutil.Process(p).memory_info().rss
        except psutil.Error:
            if i == 0:
                raise
    return int(total)


class _StatmFd:
    """``/proc/<pid>/statm`` kept open: one ``pread`` per read (procfs regenerates the text at offset 0)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        self.opened_in: int | None = None

    def read_rss_bytes(self) -> int:
        if self.fd is None or self.opened_in != os.getpid():  # first use, or inherited across fork()
            self.fd = os.open(f"/proc/{self.pid}/statm", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            self.opened_in = os.getpid()
        try:
            data = os.pread(self.fd, 256, 0)
        except OSError:
            self.close()
            raise
        return int(data.split()[1]) * _PAGE

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class ProcessTree:
    """One process and its descendants, with the descendant walk cached for ``refresh_s`` seconds.

    pid         process to follow (default: this one)
    refresh_s   longest age of the cached descendant list; :meth:`refresh` walks at once
    clock       monotonic seconds (injectable for tests)
    walk        ``walk(pid) -> [pids]`` (default :func:`descendant_pids`; injectable for tests)
    """

    def __init__(self, pid: int | None = None, refresh_s: float = REFRESH_S,
                 clock: Callable[[], float] = time.monotonic,
                 walk: Callable[[int], list[int]] = descendant_pids) -> None:
        self.pid = os.getpid() if pid is None else int(pid)
        self.refresh_s = float(refresh_s)
        self._clock = clock
        self._walk = walk
        self._kids: list[int] = []
        self._walked_at: float | None = None
        self._lock = threading.Lock()
        self._own = self.pid == os.getpid()
        self._statm = _StatmFd(self.pid) if _LINUX and self._own else None
        self.walks = 0  # how many times the tree was walked (diagnostics, tests)

    def refresh(self, max_age_s: float = 0.0) -> None:
        """Walk the tree now, unless the last walk is younger than ``max_age_s`` seconds."""
        with self._lock:
            now = self._clock()
            if self._walked_at is not None and now - self._walked_at <= max_age_s:
                return
            self._do_walk(now)

    def _do_walk(self, now: float) -> None:
        if self._own and self._walk is descendant_pids and has_children() is False:
            self._kids = []  # no child at all: nothing to walk
        else:
            self._kids = list(self._walk(self.pid))
        self._walked_at = now
        self.walks += 1

    def kids(self) -> list[int]:
        """Live descendants as of the last walk (walking first when that is older than ``refresh_s``)."""
        with self._lock:
            now = self._clock()
            if self._walked_at is None or now - self._walked_at >= self.refresh_s:
                self._do_walk(now)
            return self._kids

    def cpu_seconds(self) -> float:
        """Cumulative CPU seconds of the tree (see :func:`process_tree_cpu_seconds`)."""
        return _cpu_seconds(self.pid, self.kids())

    def rss_bytes(self) -> int:
        """Resident set size of the tree in bytes."""
        return _rss_bytes(self.pid, self.kids(), self._statm)


_trees: dict[int, ProcessTree] = {}
_trees_lock = threading.Lock()


def shared_tree(pid: int | None = None) -> ProcessTree:
    """The process-wide :class:`ProcessTree` for ``pid`` (default: this process), shared by the CPU and RAM
    models so that one walk serves both."""
    pid = os.getpid() if pid is None else int(pid)
    with _trees_lock:
        tree = _trees.get(pid)
        if tree is None:
            tree = _trees[pid] = ProcessTree(pid)
        return tree
