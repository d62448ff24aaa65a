"""The held-out kinds through the whole server, measured with the review's own scripts.

For each kind, the same joined stream as ``asr_replay.py --kinds KIND --dev-seconds S`` is replayed
by a real server (``assistant serve --source FILE``, a subprocess with its own data folder, at real
speed) and read by ``../shared/measure/capclient.py`` in the spoken language, as a delegate's phone
would. ``../shared/measure/wordlat.py product`` then gives the per-word figures
against the offline beam-5 pass of the same stream (cached as ``asr_replay.py`` caches it). Both scripts
run unchanged. WER is printed twice: as ``wordlat.py`` scores it, and with numbers spelled alike
(``asr_replay.norm``), the scoring the issue asks for and the replays use.

    .venv/bin/python benchmarks/served.py --kinds dev-es dev-ru-reading --runs 3 --dev-corpus /tmp/corpus

Nothing else should run beside it: passes take what they cost on this box, as in the hall.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import asr_replay  # noqa: E402
import wordlat  # noqa: E402  (asr_replay puts ../shared/measure on the path)
from translated_latency import free_port  # noqa: E402

from assistant.models import resolve_model  # noqa: E402

MEASURE = asr_replay.MEASURE


def one_run(wav: Path, ref: Path, offline: Path, lang: str, model: str, work: Path, passes: int) -> dict[str, Any]:
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="served-", dir=work))
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data)}
    config = data / "served.toml"
    config.write_text(f"[asr]\npasses_in_flight = {passes}\n" if passes else "")
    dump = data / "dump.json"
    load_before = os.getloadavg()
    with (data / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "assistant", "--config", str(config), "serve", "--source", str(wav), "--session", "served", "--language",
             lang, "--model", model, "--host", "127.0.0.1", "--port", str(port), "--no-qr"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(600):  # until the server listens (the model loads first)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        cap = subprocess.run(
            [sys.executable, str(MEASURE / "capclient.py"), "--url", f"ws://127.0.0.1:{port}", "--session", "served",
             "--lang", lang, "--ref", str(ref), "--dump", str(dump)],
            capture_output=True, text=True, check=True)
    finally:
        server.terminate()
        server.wait(30)
    caps = json.loads(cap.stdout.strip().splitlines()[-1])
    lat = subprocess.run(
        [sys.executable, str(MEASURE / "wordlat.py"), "product", str(dump), "--offline", str(offline), "--ref", str(ref),
         "--lang", lang],
        capture_output=True, text=True, check=True)
    words = json.loads(lat.stdout.strip().splitlines()[-1])
    msgs = json.loads(dump.read_text(encoding="utf-8"))
    text = " ".join(m["text"] for m in msgs if m.get("type") == "caption" and m.get("lang") == lang)
    reference = asr_replay.norm(ref.read_text(encoding="utf-8"), lang)
    off_text = " ".join(w["w"] for w in json.loads(offline.read_text(encoding="utf-8"))["words"])
    return {
        "seen_p50": words["seen_s"]["p50"], "seen_p95": words["seen_s"]["p95"],
        "final_p50": words["final_s"]["p50"], "final_p95": words["final_s"]["p95"], "final_max": words["final_s"]["max"],
        "matched": words["matched"], "wer_wordlat": words["wer"], "offline_wer_wordlat": words["offline_wer"],
        "wer": wordlat.wer(reference, asr_replay.norm(text, lang)),
        "offline_wer": wordlat.wer(reference, asr_replay.norm(off_text, lang)),
        "problems": caps["problems"], "partials": caps["partials"],
        "load": f"{' '.join(f'{x:.2f}' for x in load_before)} -> {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=["dev-es", "dev-it", "dev-ru-prompts", "dev-ru-reading"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dev-corpus", type=Path, default=Path("/tmp/corpus"))
    ap.add_argument("--dev-seconds", type=float, default=240.0)
    ap.add_argument("--gap-ms", type=int, default=700, help="silence between clips (asr_replay.py's default)")
    ap.add_argument("--model", default="base")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/asr-replay-offline"))
    ap.add_argument("--passes", type=int, default=0, help="asr.passes_in_flight (default: the configuration's)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="served-"))
    model_dir = resolve_model(args.model, ROOT / "models").path
    rows = []
    for kind in args.kinds:
        lang = asr_replay.language_of(kind)
        files = asr_replay.dev_clips(kind, args.dev_corpus, args.dev_seconds)
        audio = asr_replay.load_audio(files, args.gap_ms)
        asr_replay.offline_words(kind, audio, model_dir, args.cache)  # cached beside its WAV
        stem = asr_replay.offline_stem(kind, audio, model_dir, args.cache)
        if not stem.with_suffix(".wav").is_file():  # a cache made elsewhere: the server needs the file
            asr_replay.write_wav(stem.with_suffix(".wav"), audio)
        ref = work / f"{kind}.txt"
        ref.write_text(asr_replay.references(files), encoding="utf-8")
        runs = []
        for run in range(1, args.runs + 1):
            r = one_run(stem.with_suffix(".wav"), ref, stem.with_suffix(".json"), lang, args.model, work, args.passes)
            print(json.dumps({"kind": kind, "run": run, "audio_s": round(len(audio) / asr_replay.SAMPLE_RATE, 1), **r}),
                  flush=True)
            runs.append(r)
        rows.append((kind, runs))
    print(f"\nmedians of {args.runs} runs through the server, real speed, on {asr_replay.box()}; WER with numbers spelled (wordlat's own in brackets)")
    print("| kind | seen p50 / p95 s | final p50 / p95 / max s | WER (runs) | offline | Δ |")
    print("|---|---|---|---|---|---|")
    for kind, runs in rows:
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
        each = ", ".join(f"{100 * r['wer']:.1f}" for r in runs)
        print(f"| {kind} | {med['seen_p50']:.2f} / {med['seen_p95']:.2f} | {med['final_p50']:.2f} / {med['final_p95']:.2f} / "
              f"{max(r['final_max'] for r in runs):.2f} | {100 * med['wer']:.1f}% ({each}; {100 * med['wer_wordlat']:.1f}%) | "
              f"{100 * med['offline_wer']:.1f}% ({100 * med['offline_wer_wordlat']:.1f}%) | "
              f"{100 * (med['wer'] - med['offline_wer']):+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
