"""Peak memory of a process tree, read from ``/proc`` (Linux; no psutil needed).

The kernel keeps each process's resident-set high-water mark in
``/proc/<pid>/status`` (``VmHWM``), so a sampler only has to see a process once
before it exits to know its peak. Children are found through the parent id in
``/proc/<pid>/stat``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
#: How a spawned multiprocessing child starts: the model workers of ``python -m bot serve``.
SPAWNED_WORKER_MARK = "spawn_main"


def peak_rss_kib(pid: int, *, proc: Path = PROC) -> int | None:
    """The process's peak resident set size in KiB, or None once it is gone."""
    try:
        status = (proc / str(pid) / "status").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def parent_pid(pid: int, *, proc: Path = PROC) -> int | None:
    """The parent's pid from ``/proc/<pid>/stat``; the command name may hold spaces and parentheses."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def child_pids(pid: int, *, proc: Path = PROC) -> list[int]:
    """Direct children of ``pid``, by scanning every process's parent id."""
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and parent_pid(int(entry.name), proc=proc) == pid:
            found.append(int(entry.name))
    return sorted(found)


def command_line(pid: int, *, proc: Path = PROC) -> str:
    """The process's arguments joined by spaces ('' once it is gone)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


@dataclass
class TreePeaks:
    """Peak RSS (KiB) of a root process and of each child seen, with each child's command line."""

    root_kib: int = 0
    children_kib: dict[int, int] = field(default_factory=dict)
    commands: dict[int, str] = field(default_factory=dict)

    def workers_kib(self) -> dict[int, int]:
        """The children that are spawned workers (not helpers such as the resource tracker)."""
        return {pid: kib for pid, kib in self.children_kib.items() if SPAWNED_WORKER_MARK in self.commands[pid]}


class TreeMemorySampler:
    """Samples a process and its children from a thread until stopped; keeps each one's peak."""

    def __init__(self, pid: int, *, interval: float = 0.5, proc: Path = PROC) -> None:
        self.pid = pid
        self.interval = interval
        self.proc = proc
        self.peaks = TreePeaks()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def sample(self) -> None:
        """Read the root's and every current child's high-water mark once."""
        root = peak_rss_kib(self.pid, proc=self.proc)
        children = {child: peak_rss_kib(child, proc=self.proc) for child in child_pids(self.pid, proc=self.proc)}
        with self._lock:
            if root is not None:
                self.peaks.root_kib = max(self.peaks.root_kib, root)
            for child, kib in children.items():
                if kib is None:
                    continue
                self.peaks.children_kib[child] = max(self.peaks.children_kib.get(child, 0), kib)
                if not self.peaks.commands.get(child):
                    self.peaks.commands[child] = command_line(child, proc=self.proc)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> TreeMemorySampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> TreePeaks:
        """Take a last sample (call it before the processes exit) and return the peaks."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)
        self.sample()
        with self._lock:
            peaks = self.peaks
            return TreePeaks(peaks.root_kib, dict(peaks.children_kib), dict(peaks.commands))
