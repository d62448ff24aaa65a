"""A real ``redis-server`` on a free port in a temporary folder (no fake Redis in these tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server(folder: Path, *, appendonly: bool = True, port: int | None = None) -> Iterator[str]:
    """Start redis-server with ``appendfsync always`` (as docs/scaling.md advises); yield its URL.

    With the ``port`` and ``folder`` of one that stopped, it is that server restarted, with its data.
    """
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is missing: `make test` installs it (Debian: apt-get install redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
            "--protected-mode", "no", "--daemonize", "no", "--logfile", str(folder / "redis.log")]
    if appendonly:
        args += ["--appendonly", "yes", "--appendfsync", "always"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
