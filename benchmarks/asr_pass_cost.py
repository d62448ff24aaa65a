"""What one recognition pass costs: the same fixed passes under different runtime settings.

Cuts a stream of one kind of corpus speech (``asr_replay.py``'s kinds: ru, en-read, dev-ru-reading, ...)
into windows the way the recogniser sees it (every ``--every`` seconds, windows of 2.4 to 8.8 s) and
runs each through ``FasterWhisperTranscriber`` (word timestamps, base int8 by default), after one
warm-up pass. Prints wall time, mean pass, the process's user and kernel CPU time and its page faults,
so runtime settings can be compared on identical work:

    .venv/bin/python benchmarks/asr_pass_cost.py --threads 1
    .venv/bin/python benchmarks/asr_pass_cost.py --threads 2 --mmap-threshold 262144
    .venv/bin/python benchmarks/asr_pass_cost.py --beam 5 --span 10

``--mmap-threshold`` overrides glibc's mmap threshold that ``assistant.asr.heap`` fixes (bytes; 0:
glibc's own dynamic threshold, no trimming). Settings swing by 10-30% between sittings on a shared
box: alternate them and compare medians.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import asr_replay as ar  # noqa: E402

from assistant.asr import heap  # noqa: E402
from assistant.asr.transcriber import FasterWhisperTranscriber  # noqa: E402
from assistant.asr.types import TranscriptionRequest  # noqa: E402
from assistant.models import resolve_model  # noqa: E402
from assistant.pcm import SAMPLE_RATE  # noqa: E402

WINDOWS_S = (2.4, 4.0, 5.6, 7.2, 8.8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="dev-ru-reading")
    ap.add_argument("--dev-corpus", type=Path, default=Path("/tmp/corpus"))
    ap.add_argument("--model", default="base")
    ap.add_argument("--models-dir", type=Path, default=ar.ROOT / "models")
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--span", type=float, default=60.0, help="seconds of the stream the windows start in")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between window starts")
    ap.add_argument("--mmap-threshold", type=int, help="bytes; 0: glibc's defaults (no heap keeping)")
    args = ap.parse_args()
    if args.mmap_threshold:
        heap.MMAP_THRESHOLD_BYTES = args.mmap_threshold  # type: ignore[misc]
    files = ar.clips(args.kind) if args.kind in ar.KINDS else ar.dev_clips(args.kind, args.dev_corpus, args.span + 10)
    audio = ar.load_audio(files, 700)
    lang = ar.language_of(args.kind)
    info = resolve_model(args.model, args.models_dir)
    transcriber = FasterWhisperTranscriber(info.path, compute_type=args.compute_type, cpu_threads=args.threads,
                                           keep_heap=args.mmap_threshold != 0)
    requests = [
        TranscriptionRequest(audio=audio[int(start * SAMPLE_RATE): int((start + length) * SAMPLE_RATE)],
                             start_sample=int(start * SAMPLE_RATE), language=lang, beam_size=args.beam)
        for start in np.arange(0.0, args.span, args.every) for length in WINDOWS_S
        if (start + length) * SAMPLE_RATE <= len(audio)
    ]
    transcriber.transcribe(requests[0])
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    costs = [transcriber.transcribe(r).compute_ms for r in requests]
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    print(f"{args.kind} threads={args.threads} beam={args.beam} compute_type={args.compute_type} "
          f"mmap_threshold={heap.MMAP_THRESHOLD_BYTES if args.mmap_threshold != 0 else 'glibc'}: "
          f"{len(requests)} passes, wall {wall:.1f} s, mean {statistics.mean(costs):.0f} ms, "
          f"median {statistics.median(costs):.0f} ms, user {after.ru_utime - before.ru_utime:.1f} s, "
          f"kernel {after.ru_stime - before.ru_stime:.1f} s, page faults {after.ru_minflt - before.ru_minflt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
