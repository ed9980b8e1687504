"""What the benchmarks share about the machine: free ports, the civicswitch command, CPU time from /proc, and
waiting for a quiet machine before a measurement."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def civicswitch_command() -> list[str]:
    exe = Path(sys.executable).with_name("civicswitch")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from civicswitch.cli import main; sys.argv[0] = 'civicswitch'; main()"]


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def background_cores(seconds: float = 1.0) -> float:
    """Cores busy on the whole machine while the benchmark is idle (other people's work, services)."""
    m0, t0 = machine_cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    return round((machine_cpu_seconds() - m0) / (time.perf_counter() - t0), 2)


def wait_quiet(max_wait: float, threshold: float = 0.25, say: Callable[[str], None] = print) -> float:
    """Wait (at most ``max_wait`` s) for the machine to be quiet; returns the last background reading (cores)."""
    deadline = time.monotonic() + max_wait
    level = background_cores()
    if level > threshold and max_wait > 0:
        say(f"background load {level:.2f} cores; waiting up to {max_wait:.0f} s for it to drop")
    while level > threshold and time.monotonic() < deadline:
        level = background_cores()
    return level
