"""Start and stop real local servers (mlflow server, mlflow models serve) for tests, by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no answer from {url} in {timeout}s")


@contextmanager
def serving(args: list[str], health_url: str, log: Path, env: dict | None = None):
    """Run `mlflow <args>` in its own process group; stop the whole group by PID at exit."""
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    with open(log, "w") as out:
        proc = subprocess.Popen([mlflow_bin, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                                     **(env or {})})
    try:
        wait_for(health_url, proc)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
