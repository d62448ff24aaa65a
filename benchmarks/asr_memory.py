"""Memory over a long stream: RSS per 5 audio-minutes while StreamingRecognizer + base run continuously.

The stream is corpus speech looped without end (the 60 s English lecture and
the English clips, 0.7 s apart), generated chunk by chunk so the benchmark
itself holds no growing audio. Virtual time: chunks "arrive" at real-speed
times, each pass "takes" its measured compute time (as benchmarks/asr_replay.py
--virtual), so the lag per block is what a live stream would see. Events are
summarised per block, not kept.

Prints, per block of ``--block`` audio-minutes: RSS (MB), its growth since
minute 10, passes, compute ÷ audio, lag max, final latency p50/p95 (event time −
word end, recogniser's own word times), and the load average.
Target (issue 9): RSS rises by no more than 50 MB between minute 10 and 60.

    .venv/bin/python benchmarks/asr_memory.py --minutes 60
    .venv/bin/python benchmarks/asr_memory.py --minutes 20 --no-keep-heap     # glibc defaults, for comparison
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.asr import (  # noqa: E402
    FasterWhisperTranscriber,
    FinalCaption,
    LagReport,
    SileroVoiceDetector,
    StreamingRecognizer,
    Transcription,
)
from assistant.asr import heap  # noqa: E402
from assistant.models import resolve_model  # noqa: E402

SAMPLE_RATE = 16_000
CHUNK_MS = 100
CORPUS = Path("/work/shared/corpus/clips/en")


def speech_loop(gap_ms: int) -> Iterator[np.ndarray]:
    """100 ms chunks of English speech, looped forever."""
    from faster_whisper.audio import decode_audio

    files = [CORPUS / "silero__test_lecture.wav", *sorted(CORPUS.glob("*.wav"))]
    parts: list[np.ndarray] = []
    gap = np.zeros(gap_ms * SAMPLE_RATE // 1000, dtype=np.float32)
    for f in dict.fromkeys(files):
        parts += [decode_audio(str(f), sampling_rate=SAMPLE_RATE).astype(np.float32), gap]
    one = np.concatenate(parts)
    chunk = CHUNK_MS * SAMPLE_RATE // 1000
    pos = 0
    while True:
        if pos + chunk > len(one):
            yield np.concatenate([one[pos:], one[: pos + chunk - len(one)]])
            pos = pos + chunk - len(one)
        else:
            yield one[pos : pos + chunk].copy()
            pos += chunk


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss / 2**20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="base")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--block", type=float, default=5.0, help="audio-minutes per printed row")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gap-ms", type=int, default=700)
    ap.add_argument("--no-keep-heap", action="store_true", help="glibc allocator defaults, no malloc_trim")
    ap.add_argument("--mmap-threshold", type=int, help="bytes (default: assistant/asr/heap.py's)")
    args = ap.parse_args()
    if args.mmap_threshold:
        heap.MMAP_THRESHOLD_BYTES = args.mmap_threshold  # type: ignore[misc]

    info = resolve_model(args.model, args.models_dir)
    transcriber = FasterWhisperTranscriber(info.path, cpu_threads=args.threads, keep_heap=not args.no_keep_heap)
    detector = SileroVoiceDetector()
    rec = StreamingRecognizer(language="en")
    total = int(args.minutes * 60_000)
    block_ms = int(args.block * 60_000)
    print(f"model={info.name} minutes={args.minutes} keep_heap={not args.no_keep_heap} "
          f"mmap_threshold={heap.MMAP_THRESHOLD_BYTES} rss_start={rss_mb():.0f} MB")
    print("| audio min | RSS MB | Δ since min 10 | passes | compute ÷ audio | lag max s | final p50 / p95 s | load |")
    print("|---|---|---|---|---|---|---|---|")

    now = 0  # virtual ms
    fed = 0  # audio ms fed
    pending: tuple[Transcription, int] | None = None
    block_lat: list[float] = []
    block_lag = 0
    block_passes = 0
    block_compute = 0
    block_end = block_ms
    at_10: float | None = None
    chunks = speech_loop(args.gap_ms)
    wall = time.monotonic()

    def collect() -> None:
        nonlocal block_lag
        for e in rec.events_received():
            if isinstance(e, FinalCaption):
                block_lat.extend((now - w.end_ms) / 1000 for w in e.words)
            elif isinstance(e, LagReport):
                block_lag = max(block_lag, e.lag_ms)

    def start_pass() -> tuple[Transcription, int] | None:
        nonlocal block_passes, block_compute
        req = rec.transcription_due()
        collect()
        if req is None:
            return None
        result = transcriber.transcribe(req)
        block_passes += 1
        block_compute += result.compute_ms
        return result, now + result.compute_ms

    while fed < total or pending is not None:
        next_at = fed + CHUNK_MS if fed < total else None
        if pending is not None and (next_at is None or pending[1] <= next_at):
            now = pending[1]
            rec.receive_transcription(pending[0])
            collect()
            pending = start_pass()
            continue
        if next_at is None:
            break
        now = fed = next_at
        piece = next(chunks)
        rec.receive_audio(piece)
        rec.receive_voice_activity(detector.process(piece))
        if pending is None:
            pending = start_pass()
        if fed >= block_end:
            rss = rss_mb()
            minute = fed / 60_000
            if at_10 is None and minute >= 10:
                at_10 = rss
            growth = f"{rss - at_10:+.0f}" if at_10 is not None else "–"
            p50 = statistics.median(block_lat) if block_lat else float("nan")
            p95 = float(np.percentile(block_lat, 95)) if block_lat else float("nan")
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"| {minute:.0f} | {rss:.0f} | {growth} | {block_passes} | {block_compute / block_ms:.2f} | "
                  f"{block_lag / 1000:.1f} | {p50:.2f} / {p95:.2f} | {load} |", flush=True)
            block_lat, block_lag, block_passes, block_compute = [], 0, 0, 0
            block_end += block_ms
    rec.end_of_stream()
    while not rec.done:
        req = rec.transcription_due()
        collect()
        if req is None:
            break
        rec.receive_transcription(transcriber.transcribe(req))
        collect()
    print(f"wall {time.monotonic() - wall:.0f} s for {fed / 60_000:.1f} audio-minutes, rss_end={rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
