"""Per word, how soon translated readers see what was said: text in progress and finals, with flicker.

Serves a recording with `assistant serve --source FILE` (base model, real speed)
and reads it in the spoken language and in 3 (``--targets``) translated ones at
once, over the public wire protocol, recording each frame's arrival time.

Word end times come from one offline faster-whisper pass of the same model
(beam 5, word timestamps; ../shared/measure/wordlat.py), as in review. A
translated frame (partial or final) carries the spoken words it translates
(``source_text``); each of those words counts as seen in that language when the
frame arrives. Per word: latency = arrival − (started_at + word end).
Flicker: of the translated words shown in partial frames, the share that the
next frame of that caption (a newer partial or the final) no longer shows in
the same place.

Only zh→en is a real Argos package here. The targets are COPIES of it installed
as en→fr, en→de, en→es: each is a separately loaded model with the real cost of
a translation, but its output is not French, German or Spanish. The figures are
for timing only.

    .venv/bin/python benchmarks/translated_latency.py [--audio FILE --ref FILE] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Coroutine

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
MEASURE = REPO.parent / "shared" / "measure"
sys.path.insert(0, str(MEASURE))
import wordlat  # noqa: E402  (the review's own per-word alignment, ../shared/measure)
from asr_replay import box  # noqa: E402

DEFAULT_AUDIO = REPO / "tests" / "data" / "corpus" / "en" / "silero__test_lecture.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def install_copies(packages: Path, targets: list[str]) -> None:
    """The real zh→en package, installed again under en→T names (see the module docstring)."""
    real = next((REPO / "data" / "argos-packages").glob("*zh_en*"), None)
    if real is None:
        sys.exit("the zh→en package is missing: run `make languages` first")
    for target in targets:
        folder = packages / f"translate-en_{target}-timing-copy"
        folder.mkdir(parents=True)
        for item in real.iterdir():
            if item.name != "metadata.json":
                (folder / item.name).symlink_to(item.resolve())
        meta = json.loads((real / "metadata.json").read_text())
        meta.update(from_code="en", to_code=target, from_name="English", to_name=f"{target} (timing copy of zh→en)")
        (folder / "metadata.json").write_text(json.dumps(meta))


async def read(url: str, lang: str, out: list[dict[str, Any]], done: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                ws = await http.ws_connect(f"{url}/ws/captions/b?lang={lang}")
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        async with ws:
            while not done.is_set():
                try:
                    msg = await asyncio.wait_for(ws.receive(), 1.0)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                frame = json.loads(msg.data)
                frame["_t"] = time.time()
                out.append(frame)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, its labels sorted) → value


async def scrape(url: str) -> Samples:
    """The server's ``/metrics`` samples, read with prometheus-client's own parser."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        text = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def pass_time(metrics: Samples) -> str:
    """Recognition passes from the server's metrics: how many, their mean time and the share over 1 s."""
    name = "captions_recognition_pass_seconds"
    count = metrics.get((f"{name}_count", ()), 0)
    if not count:
        return "no recognition passes in the metrics"
    within = metrics.get((f"{name}_bucket", (("le", "1.0"),)), count)
    return (f"{count:.0f} recognition passes, mean {1000 * metrics[(f'{name}_sum', ())] / count:.0f} ms, "
            f"{100 * (count - within) / count:.0f}% over 1 s")


async def until_translated(frames: dict[str, list[dict[str, Any]]], targets: list[str]) -> None:
    """Until the recording was captioned to its end in English and its last clause translated in ``targets``."""
    def idle(f: dict[str, Any]) -> bool:
        return f.get("type") == "status" and f.get("state") == "idle" and bool(f.get("started_at"))

    while not any(idle(f) for f in frames["en"][-50:]) or not any(f.get("type") == "caption" for f in frames["en"]):
        await asyncio.sleep(0.2)
    # the last spoken caption ends the last clause: its translation is stored under its id
    last = [f["id"] for f in frames["en"] if f.get("type") == "caption"][-1]
    while any(not any(f.get("type") == "caption" and f.get("id") == last for f in frames[t][-200:]) for t in targets):
        await asyncio.sleep(0.2)


def seen_words(off: list[dict[str, Any]], frames: list[dict[str, Any]], t0: float,
               kinds: tuple[str, ...]) -> dict[int, float]:
    """Offline word index → first arrival (s since started_at) of a frame of ``kinds`` translating it."""
    seen: dict[int, float] = {}
    ends = [w["end"] for w in off]  # in order: the offline pass's words as spoken
    for m in frames:
        spoken = m.get("source_text") or (m.get("text") if m.get("origin") in ("asr", "manual") else None)
        if m.get("type") not in kinds or not spoken:
            continue
        words = wordlat.norm_words(spoken)
        lo, hi = m.get("start_ms", 0) / 1000 - 2.0, m.get("end_ms", 0) / 1000 + 2.0
        idx = range(bisect.bisect_left(ends, lo), bisect.bisect_right(ends, hi))
        got = wordlat.align([off[i] for i in idx], [(w, m["_t"] - t0) for w in words])
        for j, t in got.items():
            i = idx[j]
            seen[i] = min(t, seen.get(i, t))
    return seen


def flicker(frames: list[dict[str, Any]]) -> tuple[int, int]:
    """(words shown in translated partials, of those changed by the next frame of the same caption)."""
    shown = changed = 0
    previous: list[str] | None = None
    for m in frames:
        if m.get("type") == "partial":
            words = m.get("text", "").split()
            if previous is not None and words:
                changed += sum(1 for i, w in enumerate(previous) if i >= len(words) or words[i] != w)
            previous = words or None
            shown += len(words)
        elif m.get("type") == "caption" and previous is not None:
            words = m.get("text", "").split()
            changed += sum(1 for i, w in enumerate(previous) if i >= len(words) or words[i] != w)
            previous = None
    return shown, changed


def pct(values: list[float], q: float) -> float | None:
    result: float | None = wordlat.pct(values, q)
    return result


Watch = Callable[[int, asyncio.Event], Coroutine[Any, Any, None]]


async def serve_and_read(audio: Path, work: Path, targets: list[str], model: str, timeout_s: float, *,
                         workers: int = 0, threads: int = 0, passes: int = 0,
                         watch: Watch | None = None, metrics: Samples | None = None
                         ) -> dict[str, list[dict[str, Any]]]:
    """Serve ``audio`` at real speed (``assistant serve --source``, its data, config and log in ``work``) with
    ``targets`` installed as timing copies of zh→en, and read it in English and every target until its last
    clause is translated: each language's frames, with arrival times. ``workers``, ``threads``, ``passes``:
    translation.workers, asr.cpu_threads, asr.passes_in_flight (0: the configuration's); ``watch(pid, done)``
    runs beside the readers (a sampler of the server process) until ``done`` is set; ``metrics`` gets the
    server's ``/metrics`` samples at the end."""
    packages = work / "packages"
    install_copies(packages, targets)
    config = work / "bench.toml"
    config.write_text(f'[storage]\ndata_dir = "{work}/data"\n[translation]\npackages_dir = "{packages}"\n'
                      + (f"workers = {workers}\n" if workers else "")
                      + f'[asr]\nmodels_dir = "{REPO / "models"}"\n'
                      + (f"cpu_threads = {threads}\n" if threads else "")
                      + (f"passes_in_flight = {passes}\n" if passes else ""))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    with (work / "server.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "assistant", "--config", str(config), "serve", "--source", str(audio),
             "--session", "b", "--language", "en", "--languages", ",".join(targets), "--model", model,
             "--host", "127.0.0.1", "--port", str(port), "--no-qr"],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    frames: dict[str, list[dict[str, Any]]] = {lang: [] for lang in ["en", *targets]}
    done = asyncio.Event()
    url = f"http://127.0.0.1:{port}"
    tasks = [asyncio.create_task(read(url, lang, frames[lang], done)) for lang in frames]
    if watch is not None:
        tasks.append(asyncio.create_task(watch(server.pid, done)))
    try:
        async with asyncio.timeout(timeout_s):
            await until_translated(frames, targets)
        if metrics is not None:
            metrics.update(await scrape(url))
    finally:
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    return frames


async def one_run(args: argparse.Namespace, off: list[dict[str, Any]]) -> dict[str, Any]:
    targets = args.targets.split(",")
    metrics: Samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        frames = await serve_and_read(args.audio, Path(tmp), targets, args.model, args.timeout_s,
                                      workers=args.workers, threads=args.threads, passes=args.passes,
                                      metrics=metrics)
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
        for lang, got in frames.items():
            (args.dump / f"{lang}.json").write_text(json.dumps(got, ensure_ascii=False, indent=0))
    started = next(f["started_at"] for f in frames["en"] if f.get("started_at"))
    t0 = started / 1000
    result: dict[str, Any] = {}
    for lang in targets:
        seen = seen_words(off, frames[lang], t0, ("partial", "caption"))
        final = seen_words(off, frames[lang], t0, ("caption",))
        shown, changed = flicker(frames[lang])
        result[lang] = {
            "seen": [t - off[i]["end"] for i, t in seen.items()],
            "final": [t - off[i]["end"] for i, t in final.items()],
            "matched": len(final) / max(1, len(off)), "flicker": changed / max(1, shown),
            "partials": len([f for f in frames[lang] if f.get("type") == "partial" and f.get("text")]),
        }
    en_final = seen_words(off, frames["en"], t0, ("caption",))
    result["en_final"] = [t - off[i]["end"] for i, t in en_final.items()]
    result["passes"] = pass_time(metrics)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--model", default="base")
    parser.add_argument("--targets", default="fr,de,es")
    parser.add_argument("--threads", type=int, default=0, help="asr.cpu_threads (default: the configuration's)")
    parser.add_argument("--passes", type=int, default=0,
                        help="asr.passes_in_flight (default: the configuration's)")
    parser.add_argument("--workers", type=int, default=0,
                        help="translation.workers (default: the configuration's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument("--dump", type=Path, default=None, help="write each language's frames (with arrival "
                        "times) as JSON files into this folder")
    args = parser.parse_args()
    off_path = Path(tempfile.gettempdir()) / f"offline-{args.audio.stem}-{args.model}.json"
    if not off_path.exists():
        subprocess.run([sys.executable, str(MEASURE / "wordlat.py"), "offline", str(args.audio), "--model-dir",
                        str(REPO / "models" / args.model), "--lan", "en", "--out", str(off_path)], check=True)
    off = wordlat.load_offline(str(off_path))
    print(f"{args.audio.name}: {len(off)} offline words; targets {args.targets} are timing copies of zh→en "
          f"(not real translations); {box()}, load {os.getloadavg()[0]:.1f}")
    runs = []
    for n in range(args.runs):
        r = asyncio.run(one_run(args, off))
        runs.append(r)
        for lang in args.targets.split(","):
            x = r[lang]
            print(f"run {n + 1} {lang}: seen p50 {pct(x['seen'], 50)} p95 {pct(x['seen'], 95)} s; final p50 "
                  f"{pct(x['final'], 50)} p95 {pct(x['final'], 95)} s; matched {x['matched']:.2f}; "
                  f"flicker {x['flicker']:.1%}; {x['partials']} partial frames", flush=True)
        print(f"run {n + 1} en (spoken) final p50 {pct(r['en_final'], 50)} s; {r['passes']}; "
              f"load {os.getloadavg()[0]:.1f}")
    print("median of runs, all target languages together:")
    for key in ("seen", "final"):
        p50 = statistics.median(pct([v for lang in args.targets.split(",") for v in r[lang][key]], 50) or 0
                                for r in runs)
        p95 = statistics.median(pct([v for lang in args.targets.split(",") for v in r[lang][key]], 95) or 0
                                for r in runs)
        print(f"  {key}: p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(f"  flicker: {statistics.median(statistics.mean(r[l]['flicker'] for l in args.targets.split(',')) for r in runs):.1%}")


if __name__ == "__main__":
    main()
