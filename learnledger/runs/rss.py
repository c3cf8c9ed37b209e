"""How much memory a process holds, from Linux's /proc: for the load benchmark's figures.

The /proc readers return None where it cannot be read (another OS, a process gone), so a missing
figure never stops a run.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_kib() -> int:
    """This process's peak resident memory so far, in KiB (Linux's ``ru_maxrss`` unit)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def current_rss_kib(pid: int | str = "self") -> int | None:
    """A process's resident memory now (VmRSS), in KiB; None if it cannot be read."""
    return _status_field(pid, "VmRSS")


def process_peak_rss_kib(pid: int | str = "self") -> int | None:
    """A process's peak resident memory (VmHWM), in KiB; None if it cannot be read."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int | str, name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_peak_rss_kib(pid: int) -> int | None:
    """The peaks (VmHWM) of a process and all its descendants, summed, in KiB; None if unreadable.

    The sum bounds what the tree held at once from above (each peak may come at another time).
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name, in parentheses, may hold spaces: the fields after it are safe
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, found, pending = 0, False, [pid]
    while pending:
        current = pending.pop()
        peak = process_peak_rss_kib(current)
        if peak is not None:
            total, found = total + peak, True
        pending += children.get(current, [])
    return total if found else None
