"""A conference day's hour through the whole server: memory and per-word latency per 5 audio-minutes.

Issue 9 target 5 end to end: ``assistant serve --source FILE`` (base, real speed, its own data folder)
captions an hour of continuous English speech, read on real sockets in English and in 3 translated
languages at once (the timing copies of zh→en that ``translated_latency.py`` installs: real model
calls, not real French, German or Spanish), so the hour carries text in progress in every language,
final translations and the store, not the recogniser alone (``asr_memory.py`` measures that).

The stream is the development corpus's English speech (``../shared/corpus/build.py --out DIR``:
every English clip with a reference and the two long unlabelled recordings, 0.7 s apart) repeated
until it lasts ``--minutes``. Word end times come from one offline faster-whisper pass of the same
model over one cycle (beam 5, word timestamps; cached as ``asr_replay.py`` caches it), shifted for
each repeat. The server's RSS is sampled every 5 s (a block's samples are those taken while its audio
was arriving).

Per block of ``--block`` audio-minutes it prints: the server's RSS (median and most of its samples in
the block, MB) and the median's growth since minute 10; in English,
per word, first seen p50 / p95 and final p50 / p95 / max (s), and the share of offline words matched
by a final (speech lost shows there); in the translated languages together, first seen p50 / p95 and
final p50 / p95; and the load average. Target (issue 9): RSS rises by no more than 50 MB between minute
10 and minute 60, latency flat per 5 minutes.

    .venv/bin/python benchmarks/day.py --minutes 60 --dev-corpus /tmp/corpus
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import asr_replay  # noqa: E402
from translated_latency import Samples, pass_time, pct, seen_words, serve_and_read  # noqa: E402

from assistant.models import resolve_model  # noqa: E402

SR = asr_replay.SAMPLE_RATE


def english_files(corpus: Path) -> list[Path]:
    """The development corpus's English speech, in its manifest's order: clips with a reference, and the
    unlabelled long recordings (conversation and a lecture, which the hall will hear too)."""
    rows = [line.split("\t") for line in (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    long = {name for lang, name in asr_replay.UNLABELLED_KINDS.values() if lang == "en"}
    return [corpus / r[0] for r in rows if r[0].startswith("en/") and r[0].endswith(".wav")
            and ((r[7] == "utterance" and (corpus / r[0]).with_suffix(".txt").is_file()) or r[0] in long)]


def the_day(corpus: Path, minutes: float, gap_ms: int, model_dir: Path, cache: Path,
            work: Path) -> tuple[Path, list[dict[str, Any]], int]:
    """The day's WAV, its offline words (one cycle's pass, shifted per repeat) and how many cycles it holds."""
    cycle = asr_replay.load_audio(english_files(corpus), gap_ms)
    off = asr_replay.offline_words("day-en", cycle, model_dir, cache, "en")
    period = len(cycle) + gap_ms * SR // 1000
    repeats = max(1, int(np.ceil(minutes * 60 * SR / period)))
    wav = work / "day.wav"
    gap = np.zeros(gap_ms * SR // 1000, dtype=np.float32)
    length = int(minutes * 60 * SR)  # the last repeat is cut where the day ends
    asr_replay.write_wav(wav, np.concatenate([part for _ in range(repeats) for part in (cycle, gap)])[:length])
    words = [{**w, "end": w["end"] + k * period / SR} for k in range(repeats) for w in off]
    return wav, [w for w in words if w["end"] <= length / SR], repeats


async def sample_rss(pid: int, out: list[tuple[float, float, float]], done: asyncio.Event) -> None:
    """(wall time, RSS in MB, 1-minute load) of the server every 5 s until ``done``."""
    proc = psutil.Process(pid)
    while not done.is_set():
        try:
            out.append((time.time(), proc.memory_info().rss / 2**20, os.getloadavg()[0]))
        except psutil.NoSuchProcess:
            return
        try:
            await asyncio.wait_for(done.wait(), 5.0)
        except TimeoutError:
            pass


def spoken_seen(off: list[dict[str, Any]], frames: list[dict[str, Any]], t0: float,
                kinds: tuple[str, ...]) -> dict[int, float]:
    """As ``seen_words``, for the spoken language's own frames (a partial's text is the words heard)."""
    own = [{**m, "source_text": m.get("text")} for m in frames if m.get("type") in kinds]
    return seen_words(off, own, t0, kinds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--block", type=float, default=5, help="audio-minutes per printed row")
    ap.add_argument("--dev-corpus", type=Path, default=Path("/tmp/corpus"))
    ap.add_argument("--gap-ms", type=int, default=700)
    ap.add_argument("--model", default="base")
    ap.add_argument("--targets", default="fr,de,es")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-replay-offline"))
    args = ap.parse_args()
    model_dir = resolve_model(args.model, ROOT / "models").path
    targets = args.targets.split(",")
    with tempfile.TemporaryDirectory(prefix="day-") as tmp:
        work = Path(tmp)
        wav, off, repeats = the_day(args.dev_corpus, args.minutes, args.gap_ms, model_dir, args.cache, work)
        length = args.minutes * 60
        print(f"{length / 60:.1f} audio-minutes: the English development speech, {repeats} times or part of it "
              f"({len(off)} offline words); {asr_replay.box()}, load {os.getloadavg()[0]:.1f}", flush=True)
        rss: list[tuple[float, float, float]] = []
        metrics: Samples = {}
        frames = asyncio.run(serve_and_read(wav, work, targets, args.model, length + 900,
                                            watch=lambda pid, done: sample_rss(pid, rss, done), metrics=metrics))
    t0 = next(f["started_at"] for f in frames["en"] if f.get("started_at")) / 1000
    en_seen = spoken_seen(off, frames["en"], t0, ("partial", "caption"))
    en_final = spoken_seen(off, frames["en"], t0, ("caption",))
    tr_seen = [seen_words(off, frames[t], t0, ("partial", "caption")) for t in targets]
    tr_final = [seen_words(off, frames[t], t0, ("caption",)) for t in targets]
    block_s = args.block * 60
    blocks = int(np.ceil(length / block_s))

    def lat(seen: dict[int, float], idx: range) -> list[float]:
        return [seen[i] - off[i]["end"] for i in idx if i in seen]

    def rss_in(b: int) -> tuple[float, float, float]:
        """The server's RSS over block ``b`` (median and most, MB) and the load at its end: RSS swings by up to
        ~100 MB from one 5-s sample to the next, so one sample would not tell a trend."""
        inside = [s for s in rss if t0 + b * block_s <= s[0] < t0 + (b + 1) * block_s] or rss[-1:]
        return statistics.median(s[1] for s in inside), max(s[1] for s in inside), inside[-1][2]

    print("| audio min | RSS MB median / most | Δ median since min 10 | en seen p50 / p95 s | en final p50 / p95 / max s "
          "| matched | translated seen p50 / p95 s | translated final p50 / p95 s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    base: float | None = None
    ends = [w["end"] for w in off]
    for b in range(blocks):
        lo = int(np.searchsorted(ends, b * block_s, side="left"))
        hi = int(np.searchsorted(ends, (b + 1) * block_s, side="left"))
        idx = range(lo, hi)
        mb, most, load = rss_in(b)
        if (b + 1) * args.block == 10:
            base = mb
        seen, final = lat(en_seen, idx), lat(en_final, idx)
        t_seen = [v for s in tr_seen for v in lat(s, idx)]
        t_final = [v for s in tr_final for v in lat(s, idx)]
        delta = "–" if base is None else f"{mb - base:+.0f}"
        print(f"| {min((b + 1) * args.block, length / 60):.0f} | {mb:.0f} / {most:.0f} | {delta} "
              f"| {pct(seen, 50)} / {pct(seen, 95)} | {pct(final, 50)} / {pct(final, 95)} / {pct(final, 100)} "
              f"| {len(final) / max(1, len(idx)):.2f} | {pct(t_seen, 50)} / {pct(t_seen, 95)} "
              f"| {pct(t_final, 50)} / {pct(t_final, 95)} | {load:.1f} |", flush=True)
    print(f"RSS over the day: {statistics.median(s[1] for s in rss):.0f} MB median, {max(s[1] for s in rss):.0f} MB "
          f"at most, {rss[-1][1]:.0f} MB at the end; {pass_time(metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
