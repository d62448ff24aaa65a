"""Soak run: hours of audio through the whole server path, faster than real time, with a scripted recogniser.

Audio chunks go through the session runtime and RecognizerRunner exactly as live audio does; the scripted
transcriber answers instantly, so hours pass in minutes. Readers stay connected over real sockets on
127.0.0.1. Every simulated 15 minutes it prints the server's RSS, open file descriptors, asyncio tasks,
captions so far and the caption delivery delay (wall time from storing a caption to a reader receiving it).
Growth in any column over the run is the thing to look for.

    .venv/bin/python benchmarks/soak.py --hours 4 --readers 20
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import numpy as np
import psutil
from aiohttp.test_utils import TestServer

from assistant.asr.runner import RecognizerRunner
from assistant.asr.scripted import ScriptedTranscriber, utterance
from assistant.asr.types import RecognizerSettings
from assistant.config import load
from assistant.server.runtime import SessionRuntime
from assistant.server.app import make_app
from assistant.server.keys import SESSIONS, STORE
from assistant.server.runtime import Recognizer

CHUNK = 1600  # 100 ms at 16 kHz
SENTENCES = ("The committee met in the morning to review the results.",
             "Several groups reported new measurements from the field.",
             "Questions from the audience will follow the last talk.")
REPORT_EVERY_S = 15 * 60


async def reader(url: str, arrivals: list[tuple[int, float]], stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            while not stop.is_set():
                try:
                    msg = await ws.receive(timeout=1)
                except asyncio.TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                frame = json.loads(msg.data)
                if frame["type"] == "caption":
                    arrivals.append((frame["seq"], time.time() * 1000))


async def main(hours: float, readers: int) -> None:
    total_s = int(hours * 3600)
    script = [utterance(SENTENCES[i % len(SENTENCES)], t * 1000, word_ms=300, gap_ms=40)
              for i, t in enumerate(range(0, total_s, 5))]
    fake = ScriptedTranscriber(script)
    fake.requests = deque(maxlen=1)  # type: ignore[assignment]  # tests inspect requests; a soak must not keep them
    executor = ThreadPoolExecutor(max_workers=1)

    def factory(language: str | None, glossary: tuple[str, ...], task: str = "transcribe") -> Recognizer:
        return RecognizerRunner(fake, None, RecognizerSettings(use_vad=False), executor=executor, language=language)

    data = tempfile.mkdtemp(prefix="soak-")
    base = load(None, {"ASSISTANT_DATA_DIR": data, "ASSISTANT_CHAIR_TOKEN": "soak-chair-token",
                       "ASSISTANT_STAFF_TOKEN": "soak-staff-token"})
    settings = dataclasses.replace(base, sessions=(dataclasses.replace(base.sessions[0], source="remote"),))
    app = make_app(settings, recognizer_factory=factory)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    runtime = app[SESSIONS].get("main")
    assert isinstance(runtime, SessionRuntime)  # make_app serves its rooms in-process
    store = app[STORE]
    proc = psutil.Process(os.getpid())
    arrivals: list[tuple[int, float]] = []
    stop = asyncio.Event()
    url = str(server.make_url("/ws/captions/main"))
    clients = [asyncio.create_task(reader(url, arrivals, stop)) for _ in range(readers)]
    await asyncio.sleep(0.5)
    feed = runtime.open_audio()
    silence = np.zeros(CHUNK, dtype=np.float32)
    print(f"soak: {hours} h of audio, {readers} readers, store in {data}")
    print(f"{'audio':>8} {'wall s':>7} {'RSS MB':>7} {'fds':>4} {'tasks':>5} {'captions':>8} {'delay p50 ms':>12}"
          f" {'p99 ms':>7}")
    started = time.monotonic()
    for i in range(total_s * 10):
        runtime.push_audio(silence)
        if i % 10 == 0:
            # Let the recogniser and writers run; keep the feed from running ahead of recognition.
            while feed.pending() > 20:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        if i and i % (REPORT_EVERY_S * 10) == 0:
            got, arrivals[:] = arrivals[:], []
            made = {c.seq: c.created_at_ms or 0 for c in store.captions_since(
                "main", "en", min((q for q, _ in got), default=1) - 1, 100_000)}
            window = [t - made[q] for q, t in got if q in made]
            p50 = statistics.median(window) if window else float("nan")
            p99 = float(np.percentile(window, 99)) if window else float("nan")
            print(f"{i // 10 // 60:>6} m {time.monotonic() - started:>7.0f} {proc.memory_info().rss / 2**20:>7.1f}"
                  f" {proc.num_fds():>4} {len(asyncio.all_tasks()):>5}"
                  f" {store.latest_seq('main', 'en'):>8} {p50:>12.1f} {p99:>7.1f}", flush=True)
    runtime.close_audio()
    await asyncio.sleep(1)
    captions = store.latest_seq("main", "en")
    stop.set()
    await asyncio.gather(*clients, return_exceptions=True)
    await server.close()
    executor.shutdown()
    size = Path(data, "captions.sqlite3").stat().st_size / 2**20
    print(f"done: {captions} captions in {time.monotonic() - started:.0f} s, store {size:.1f} MB")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--hours", type=float, default=4)
    p.add_argument("--readers", type=int, default=20)
    a = p.parse_args()
    asyncio.run(main(a.hours, a.readers))
