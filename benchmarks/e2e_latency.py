"""End-to-end caption latency: file source → server → WebSocket reader, at real speed.

Starts `assistant serve --source FILE` as a subprocess (real model, real sockets), reads the caption
stream as a delegate's phone would, and reports per caption:
  final latency   = arrival − (started_at + end_ms)      of each final caption
  partial latency = arrival − (started_at + end_ms)      of each partial update
(caption end times are the recogniser's word timestamps, so this is the delay of the caption's last word),
WER of the final text against the reference (lower-case, punctuation stripped, whitespace collapsed)
next to one offline faster-whisper pass of the same model (beam 1 and beam 5), and the server's peak RSS.

    .venv/bin/python benchmarks/e2e_latency.py --model base --runs 3 FILE.wav [FILE2.wav ...]

Several files are joined with 0.6 s gaps; references are the .txt files beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import jiwer
import numpy as np
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
GAP_S = 0.6


def normalise(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower())
    return " ".join(text.split())


def join_files(files: list[Path], out: Path) -> str:
    chunks, refs = [], []
    for f in files:
        with wave.open(str(f)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1, f"{f}: need 16 kHz mono WAV"
            chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
            chunks.append(np.zeros(int(GAP_S * 16000), dtype="<i2"))
        ref = f.with_suffix(".txt")
        refs.append(ref.read_text().strip() if ref.exists() else "")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.concatenate(chunks).tobytes())
    return " ".join(r for r in refs if r)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(values, q))


async def one_run(audio: Path, model: str, language: str) -> dict[str, object]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="bench-")
    env = {**os.environ, "ASSISTANT_DATA_DIR": data}
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--source", str(audio), "--session",
                             "bench", "--language", language, "--model", model, "--host", "127.0.0.1", "--port",
                             str(port), "--no-qr"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak = 0
    finals: list[float] = []
    partials: list[float] = []
    texts: list[str] = []
    # (audio minute, final latency s, server RSS MB) for the flatness check over long runs
    timeline: list[tuple[float, float, float]] = []
    try:
        for _ in range(600):
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/captions/bench")
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with ws:
            hello = json.loads(await ws.recv())
            started = hello["started_at"]
            while True:
                peak = max(peak, ps.memory_info().rss)
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                now = time.time() * 1000
                if frame["type"] == "caption":
                    texts.append(frame["text"])
                    if started is not None:
                        finals.append((now - started - frame["end_ms"]) / 1000)
                        timeline.append((frame["end_ms"] / 60000, finals[-1], ps.memory_info().rss / 2**20))
                elif frame["type"] == "partial" and frame["text"] and started is not None:
                    partials.append((now - started - frame["end_ms"]) / 1000)
                elif frame["type"] == "status" and not frame["live"] and texts:
                    break
                if started is None:  # audio had not started at hello time
                    started = (await _started(port))
    finally:
        proc.terminate()
        proc.wait(10)
    return {"finals": finals, "partials": partials, "text": " ".join(texts), "peak_mb": peak / 2**20,
            "timeline": timeline}


async def _started(port: int) -> int | None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/captions/bench?since=999999999") as ws:
        return json.loads(await ws.recv())["started_at"]  # type: ignore[no-any-return]


def offline_wer(audio: Path, model: str, language: str, reference: str, beam: int) -> float:
    from faster_whisper import WhisperModel

    from assistant.models import resolve_model

    m = WhisperModel(str(resolve_model(model, ROOT / "models").path), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = m.transcribe(str(audio), language=language, beam_size=beam, vad_filter=True)
    return float(jiwer.wer(normalise(reference), normalise(" ".join(s.text for s in segments))))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--model", default="base")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--language", default="en")
    args = p.parse_args()
    audio = Path(tempfile.mkdtemp()) / "joined.wav"
    reference = join_files(args.files, audio)
    with wave.open(str(audio)) as w:
        duration = w.getnframes() / 16000
    print(f"audio: {duration:.1f} s from {len(args.files)} file(s); model {args.model} int8; "
          f"{os.cpu_count()}-core machine (shared)")
    rows = []
    for i in range(args.runs):
        r = asyncio.run(one_run(audio, args.model, args.language))
        wer = float(jiwer.wer(normalise(reference), normalise(str(r["text"])))) if reference else float("nan")
        finals, partials = r["finals"], r["partials"]
        assert isinstance(finals, list) and isinstance(partials, list)
        row = {"final_p50": pct(finals, 50), "final_p95": pct(finals, 95), "final_max": max(finals, default=0),
               "partial_p50": pct(partials, 50), "partial_p95": pct(partials, 95), "wer": wer,
               "peak_mb": r["peak_mb"], "captions": len(finals)}
        rows.append(row)
        timeline = r["timeline"]
        assert isinstance(timeline, list)
        if duration > 600:  # long runs: latency and memory per 5 minutes of audio
            print("  minutes  final p50  final p95  RSS MB")
            for m in range(0, int(duration // 60) + 1, 5):
                part = [t for t in timeline if m <= t[0] < m + 5]
                if part:
                    lat = [t[1] for t in part]
                    print(f"  {m:>3}-{m + 5:<3}  {pct(lat, 50):>9.2f}  {pct(lat, 95):>9.2f}  {part[-1][2]:>6.0f}")
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in row.items()))
    print("median of runs: " + ", ".join(f"{k} {statistics.median(float(r[k]) for r in rows):.3f}"  # type: ignore[arg-type]
                                         for k in rows[0]))
    if reference:
        for beam in (1, 5):
            print(f"offline faster-whisper {args.model} beam {beam}: WER {offline_wer(audio, args.model, args.language, reference, beam):.3f}")


if __name__ == "__main__":
    main()
