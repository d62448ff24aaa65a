"""whisper_streaming beside ours: the best-known open streaming policy on the same audio, the same clock.

Runs ufal/whisper_streaming's ``OnlineASRProcessor`` (LocalAgreement-2, 1 s chunks, buffer trimmed at
segments past 15 s, beam 5 and the 200-character prompt on every step, faster-whisper's fallback ladder)
over the model of ``--model`` on the CPU (int8, ``--threads``), in its own simultaneous mode: audio
arrives at real speed and each step's compute time counts, as in ``whisper_online.py`` without
``--comp_unaware``. The audio, the offline pass, the normalisation and the per-word alignment are
``asr_replay.py``'s, so its table reads beside ``asr_replay.py``'s and ``served.py``'s:

    git clone https://github.com/ufal/whisper_streaming /tmp/whisper_streaming
    .venv/bin/python benchmarks/peer.py --peer /tmp/whisper_streaming --kinds dev-ru-prompts dev-es --runs 1

Per word: *final* = when the step that committed it returned − the offline word end (it shows no
words in progress, so first seen is its final). Its committed text is scored like ours; the words
still uncommitted when the stream ends are flushed at that moment, as ``whisper_online.py`` does.
``whisper_online.py`` imports librosa and soundfile for its file loader, which this benchmark does not
call (it is given the decoded audio): where they are not installed, empty modules stand in for them.
Run it alone: a second process on the box slows its steps, and its lag grows with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asr_replay as ar  # noqa: E402
import wordlat  # noqa: E402  (asr_replay puts ../shared/measure on the path)

from assistant.asr.types import FinalCaption, RecognizerEvent  # noqa: E402
from assistant.captions import Word  # noqa: E402
from assistant.models import resolve_model  # noqa: E402
from assistant.pcm import SAMPLE_RATE  # noqa: E402


def load_peer(folder: Path) -> types.ModuleType:
    """``whisper_online`` from a checkout of ufal/whisper_streaming."""
    for name in ("librosa", "soundfile"):  # its file loader only (see the module docstring)
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    path = folder / "whisper_online.py"
    if not path.is_file():
        raise SystemExit(f"{path} not found: --peer is a checkout of https://github.com/ufal/whisper_streaming")
    spec = importlib.util.spec_from_file_location("whisper_online", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_asr(peer: types.ModuleType, model_dir: Path, lang: str, threads: int) -> Any:
    """Its faster-whisper backend on the CPU (it loads the model on CUDA), with our model's files."""
    from faster_whisper import WhisperModel

    base: Any = peer.FasterWhisperASR

    class CpuFasterWhisperASR(base):  # type: ignore[misc]
        def load_model(self, modelsize: Any = None, cache_dir: Any = None, model_dir: Any = None) -> Any:
            return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
                                local_files_only=True)

    return CpuFasterWhisperASR(lang, model_dir=str(model_dir))


def stream(peer: types.ModuleType, asr: Any, audio: np.ndarray, lang: str, min_chunk: float) -> tuple[
        list[tuple[float, RecognizerEvent]], float]:
    """whisper_online.py's simultaneous mode over ``audio``; each step's newly committed words as one
    final at the time the step returned, and the compute time of all steps."""
    online = peer.OnlineASRProcessor(asr)  # buffer_trimming=("segment", 15), its default
    duration = len(audio) / SAMPLE_RATE
    asr.transcribe(audio[:SAMPLE_RATE])  # its warm-up, before the clock starts
    events: list[tuple[float, RecognizerEvent]] = []
    compute = 0.0

    def emit(words: list[tuple[float, float, str]], at: float) -> None:
        if words:
            ws = tuple(Word(t, round(a * 1000), round(b * 1000)) for a, b, t in words)
            events.append((at, FinalCaption(ws[0].start_ms, ws[-1].end_ms, "".join(t for _, _, t in words), ws, lang)))

    start = time.monotonic()
    beg = end = 0.0
    while end < duration:
        now = time.monotonic() - start
        if now < end + min_chunk:
            time.sleep(end + min_chunk - now)
        end = min(time.monotonic() - start, duration)
        online.insert_audio_chunk(audio[round(beg * SAMPLE_RATE) : round(end * SAMPLE_RATE)])
        beg = end
        committed = len(online.commited)
        step = time.monotonic()
        online.process_iter()
        compute += time.monotonic() - step
        emit(online.commited[committed:], time.monotonic() - start)
    emit(list(online.transcript_buffer.complete()), time.monotonic() - start)
    return events, compute


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", type=Path, required=True, help="a checkout of ufal/whisper_streaming")
    ap.add_argument("--kinds", nargs="*", default=list(ar.DEV_KINDS), choices=[*ar.DEV_KINDS, *ar.UNLABELLED_KINDS])
    ap.add_argument("--model", default="base")
    ap.add_argument("--models-dir", type=Path, default=ar.ROOT / "models")
    ap.add_argument("--dev-corpus", type=Path, default=Path("/tmp/corpus"), help="build.py --out folder")
    ap.add_argument("--dev-seconds", type=float, default=240.0, help="audio per held-out dev kind")
    ap.add_argument("--gap-ms", type=int, default=700, help="silence between joined clips")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="CTranslate2 threads (PEER-FINDINGS.md measured 2)")
    ap.add_argument("--min-chunk", type=float, default=1.0, help="seconds of new audio a step waits for (its default)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-replay-offline"))
    ap.add_argument("--diff", action="store_true", help="print the normalised reference, offline and streamed words")
    args = ap.parse_args()
    peer = load_peer(args.peer)
    info = resolve_model(args.model, args.models_dir)
    print(f"peer=whisper_streaming model={info.name} threads={args.threads} min_chunk={args.min_chunk} "
          f"runs={args.runs} load={ar.load()} box={ar.box()}")
    summary = []
    for kind in args.kinds:
        lang = ar.language_of(kind)
        audio, off, off_text, ref, offline_wer = ar.scored_stream(kind, args.dev_corpus, args.dev_seconds, args.gap_ms,
                                                                  info.path, args.cache)
        asr = peer_asr(peer, info.path, lang, args.threads)
        rows = []
        for i in range(args.runs):
            before = ar.load()
            events, compute = stream(peer, asr, audio, lang, args.min_chunk)
            row = ar.measure(events, [dict(w) for w in off], lang)
            row.pop("latest")
            got = row.pop("final")
            row["wer"] = wordlat.wer(ref, got)
            row["compute_ratio"] = round(compute / (len(audio) / SAMPLE_RATE), 2)
            row["load"] = f"{before} -> {ar.load()}"
            rows.append(row)
            print(json.dumps({"kind": kind, "run": i + 1, "audio_s": round(len(audio) / SAMPLE_RATE, 1),
                              **{k: v for k, v in row.items() if not k.startswith(("seen", "lag", "dropped"))}}))
            if args.diff and i == 0:
                print("  ref:", " ".join(ref))
                print("  off:", " ".join(off_text))
                print("  got:", " ".join(got))

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float:
            return float(statistics.median(r[key] for r in rows))

        summary.append(
            f"| {kind} | {len(audio) / SAMPLE_RATE:.0f} s | {med('final_p50'):.2f} / {med('final_p95'):.2f} / "
            f"{med('final_max'):.2f} | {100 * med('wer'):.1f}% | {100 * offline_wer:.1f}% | "
            f"{100 * (med('wer') - offline_wer):+.1f} | {med('compute_ratio'):.2f} |"
        )
    print(f"\nwhisper_streaming, medians of {args.runs} runs, real speed, load now {ar.load()}")
    print("| kind | audio | final p50 / p95 / max s | WER | offline WER | Δ | compute ÷ audio |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
