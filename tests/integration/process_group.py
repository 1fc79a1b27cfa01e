"""Stopping the real servers the integration tests start (each in its own process group)."""

from __future__ import annotations

import os
import signal
import subprocess


def kill_process_group(process: subprocess.Popen | None) -> None:
    """Hard crash (SIGKILL) of the whole group, for fault tests and as the last resort."""
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def stop_process_group(process: subprocess.Popen | None, timeout: float) -> None:
    """Clean shutdown (SIGTERM), as systemd stops a unit; SIGKILL when still running after `timeout`."""
    if not process or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(process)
