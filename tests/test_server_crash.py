"""A killed server loses nothing a reader had seen, and the session resumes (real subprocess, kill -9)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

CHAIR = "chair-token-crash-test"
STAFF = "staff-token-crash-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_CHAIR_TOKEN": CHAIR,
           "ASSISTANT_STAFF_TOKEN": STAFF}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--source", "none", "--host", "127.0.0.1",
                             "--port", str(port), "--no-qr"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start within 20 s")


async def read_all(port: int, since: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"http://127.0.0.1:{port}/ws/captions/main?since={since}") as ws:
            hello = json.loads((await ws.receive()).data)
            caps: list[dict[str, Any]] = []
            while len(caps) < hello["seq"] - since:
                frame = json.loads((await ws.receive(timeout=5)).data)
                if frame["type"] == "caption":
                    caps.append(frame)
            return hello, caps


async def test_kill_9_loses_no_caption_a_reader_saw(tmp_path: Path) -> None:
    port = free_port()
    proc = await start_server(tmp_path, port)
    seen: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"http://127.0.0.1:{port}/ws/captions/main") as ws:
                await ws.receive()  # hello
                for i in range(20):
                    await http.post(f"http://127.0.0.1:{port}/api/sessions/main/captions",
                                    json={"text": f"Caption {i}."}, headers={"Authorization": f"Bearer {CHAIR}"})
                while len(seen) < 20:
                    frame = json.loads((await ws.receive(timeout=5)).data)
                    if frame["type"] == "caption":
                        seen.append(frame)
                os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no flush
                proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    proc = await start_server(tmp_path, port)
    try:
        hello, replay = await read_all(port)
        assert hello["seq"] == 20
        assert [(c["seq"], c["id"], c["text"]) for c in replay] == [(c["seq"], c["id"], c["text"]) for c in seen]
        # the session resumes: new captions continue the numbering, later in audio time
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"http://127.0.0.1:{port}/api/sessions/main/captions",
                                   json={"text": "After the restart."}, headers={"Authorization": f"Bearer {CHAIR}"})
            new = await resp.json()
        assert new["seq"] == 21 and new["start_ms"] >= seen[-1]["end_ms"]
        _, tail = await read_all(port, since=20)
        assert [c["text"] for c in tail] == ["After the restart."]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
