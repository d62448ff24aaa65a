"""Real cluster parts for tests: `assistant serve` subprocesses and nginx configured as docs/deploy-nginx.md says."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.helpers.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
CHAIR = "cluster-chair-token"
STAFF = "cluster-staff-token"
DOC = ROOT / "docs" / "deploy-nginx.md"


@dataclass
class Node:
    """One `assistant serve` process."""

    role: str
    port: int
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9: no goodbye, no lease given back, sockets cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Cluster:
    redis_url: str
    folder: Path
    nodes: list[Node] = field(default_factory=list)

    def start(self, role: str, *args: str, port: int | None = None) -> Node:
        port = port or free_port()
        n = len(self.nodes)
        node = Node(role, port, list(args), self.folder / f"{role}-{n}-{port}.log")
        self.nodes.append(node)
        self.launch(node)
        return node

    def launch(self, node: Node) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update({"ASSISTANT_CHAIR_TOKEN": CHAIR, "ASSISTANT_STAFF_TOKEN": STAFF,
                    "ASSISTANT_DATA_DIR": str(self.folder / f"data-{node.port}"),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])})
        conf = self.folder / "node.toml"
        if not conf.exists():  # as docs/deploy-nginx.md says for nodes behind nginx
            conf.write_text('[server]\ntrusted_proxies = ["127.0.0.1"]\n[limits]\nmax_connections_per_ip = 5000\n')
        with open(node.log, "ab") as out:
            node.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant", "--config", str(conf), "serve", "--role", node.role,
                 "--redis", self.redis_url,
                 "--host", "127.0.0.1", "--port", str(node.port), "--no-qr", *node.args],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def wait_healthy(url: str, timeout: float = 120) -> None:
    _wait_for_health(url, lambda health: True, f"{url} did not come up", timeout)


def wait_serving(url: str, session: str, timeout: float = 60) -> None:
    """Wait until the node at ``url`` knows ``session`` (a web node learns a worker's rooms through Redis)."""
    _wait_for_health(url, lambda health: session in health.get("sessions", {}),
                     f"{url} did not learn session {session!r}", timeout)


def _wait_for_health(url: str, ready: Callable[[dict[str, Any]], bool], failure: str, timeout: float) -> None:
    """Poll ``/healthz`` until its JSON satisfies ``ready``."""
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200 and ready(json.loads(resp.read())):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{failure} in {timeout:.0f} s")
        time.sleep(0.2)


def nginx_config(folder: Path, listen_port: int, upstreams: list[int]) -> str:
    """The "Several web nodes" configuration of docs/deploy-nginx.md, on 127.0.0.1 without TLS.

    Taken from the document itself: its upstream servers become ``upstreams``,
    its ``listen 443 ssl`` this test's port, and the certificate lines go.
    """
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Several web nodes", 1)[1]
    block = section.split("```nginx", 1)[1].split("```", 1)[0]
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in upstreams)
    upstream = re.compile(r"^\s*server \d+\.\d+\.\d+\.\d+:\d+[^;]*;\n", re.M)
    first = upstream.search(block)
    assert first is not None, "docs/deploy-nginx.md: no upstream servers in the cluster configuration"
    block = block[:first.start()] + servers + upstream.sub("", block[first.start():])
    block = re.sub(r"listen 443 ssl[^;]*;", f"listen 127.0.0.1:{listen_port} backlog=4096;", block)
    block = "\n".join(line for line in block.splitlines() if not line.strip().startswith(("ssl_", "http2")))
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"    {name}_temp_path {folder}/{name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
            f"worker_rlimit_nofile 16384;\nevents {{ worker_connections 8192; }}\n"
            f"http {{\n    access_log off;\n{temp}{block}\n}}\n")


@dataclass
class Nginx:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_nginx(folder: Path, upstreams: list[int]) -> Nginx:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe is None:
        pytest.fail("nginx is missing: `make test` installs it (Debian: apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(folder, port, upstreams))
    check = subprocess.run([exe, "-t", "-c", str(conf), "-p", str(folder)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(folder), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = Nginx(port, proc)
    try:
        wait_healthy(nginx.url, 30)
    except BaseException:
        nginx.stop()
        raise
    return nginx
