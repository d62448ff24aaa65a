"""A cluster on this machine under load: Redis, web nodes and dry-run workers behind nginx.

Starts redis-server (``appendfsync always``), ``--webs`` web nodes and ``--workers`` dry-run
workers as `assistant serve` subprocesses and nginx configured from docs/deploy-nginx.md
(tests/helpers/cluster.py), then runs ``benchmarks/load.py --url`` against nginx: ``--readers``
readers of room ``main`` plus ``--rooms`` other rooms with ``--room-readers`` each, the chair
posting ``--rate`` captions a second in every room. ``--kill-web S`` kills one web node with
SIGKILL S seconds into the live phase (its readers reconnect through nginx and resume; each load
run reports how soon its cut-off readers caught up). ``--kill-worker S`` adds room ``rec``, a
recording (``--source``, default the 60 s lecture of tests/data) played at real speed (workers
recognise with ``--model``, default the dry run's script), read by ``--rec-readers``, and kills the worker that
owns it with SIGKILL S seconds into the run: it reports the takeover time (kill → the lease names
another worker), the longest gap between consecutive captions of the recording (audio time), and
any seq twice. Reports each load run's own summary (latency, loss, duplicates), then the CPU seconds
each process used per second of the live phase, and Redis commands per caption posted (INFO
commandstats).

    PYTHONPATH=. .venv/bin/python benchmarks/cluster.py --readers 2000 --rooms 10 --room-readers 100
    PYTHONPATH=. .venv/bin/python benchmarks/cluster.py --readers 1000 --kill-web 10
    PYTHONPATH=. .venv/bin/python benchmarks/cluster.py --readers 0 --kill-worker 20 --rec-readers 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LECTURE = ROOT / "tests" / "data" / "corpus" / "en" / "silero__test_lecture.wav"

from assistant.cluster.keys import RoomKeys  # noqa: E402
from tests.helpers.cluster import CHAIR, STAFF, Cluster, Node, start_nginx, wait_healthy, wait_serving  # noqa: E402
from tests.helpers.redis_server import redis_server  # noqa: E402


def commandstats(r: redis.Redis) -> dict[str, int]:
    info = r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


def cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system + sum(
                c.cpu_times().user + c.cpu_times().system for c in psutil.Process(pid).children(recursive=True))
        except psutil.NoSuchProcess:
            out[name] = float("nan")
    return out


def owner(r: redis.Redis, workers: list[Node], room: str) -> tuple[str, Node | None]:
    """The name in ``room``'s lease and the worker node of that name (via its /healthz)."""
    import urllib.request

    name = cast(bytes | None, r.get(RoomKeys(room).lease))
    held = name.decode() if name is not None else ""
    for node in workers:
        if node.proc is not None and node.proc.poll() is None:
            with urllib.request.urlopen(f"{node.url}/healthz", timeout=5) as resp:
                if json.loads(resp.read())["worker"] == held:
                    return held, node
    return held, None


def takeover(r: redis.Redis, workers: list[Node], room: str) -> tuple[float, float, float]:
    """Kill ``room``'s owner; return when, how long until the lease names another worker, and until the
    room's next caption is in its log (readers get it from there)."""
    held, node = owner(r, workers, room)
    assert node is not None, f"no live worker holds {room}"
    log = RoomKeys(room).captions("en")
    made = int(r.xlen(log))
    node.kill()
    t_kill = time.time()
    leased = float("nan")
    while time.time() < t_kill + 60:
        now = cast(bytes | None, r.get(RoomKeys(room).lease))
        if leased != leased and now is not None and now.decode() != held:
            leased = time.time() - t_kill
        if int(r.xlen(log)) > made:
            return t_kill, leased, time.time() - t_kill
        time.sleep(0.02)
    return t_kill, leased, float("nan")


def recording_report(r: redis.Redis, room: str) -> str:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], r.xrange(RoomKeys(room).captions("en")))
    seqs = [int(i.decode().split("-")[0]) for i, _ in entries]
    starts = [json.loads(f[b"c"])["start_ms"] for _, f in entries]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    twice = len(seqs) - len(set(seqs))
    order = "in order" if seqs == list(range(1, len(seqs) + 1)) else "NOT 1..n"
    return (f"{len(seqs)} captions (seqs {order}, {twice} twice); caption starts {starts[:1]}…{starts[-1:]} ms; "
            f"longest gap between consecutive caption starts {max(gaps, default=0) / 1000:.1f} s "
            f"(median {sorted(gaps)[len(gaps) // 2] / 1000 if gaps else 0:.1f} s)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--readers", type=int, default=2000)
    p.add_argument("--rooms", type=int, default=0, help="other rooms besides main")
    p.add_argument("--room-readers", type=int, default=100)
    p.add_argument("--rate", type=float, default=2.0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--webs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--kill-web", type=float, default=0.0, help="kill one web node this many seconds into the run")
    p.add_argument("--load-workers", type=int, default=3, help="client processes for main's readers")
    p.add_argument("--kill-worker", type=float, default=0.0,
                   help="add room rec (a recording) and kill its worker this many seconds into the run")
    p.add_argument("--rec-readers", type=int, default=100)
    p.add_argument("--source", default=str(LECTURE), help="the recording of room rec (16 kHz mono WAV)")
    p.add_argument("--model", help="workers recognise with this model (default: dry run)")
    args = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    folder = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    with redis_server(folder / "redis") as url:
        c = Cluster(url, folder)
        nginx = None
        loads: list[subprocess.Popen[bytes]] = []
        try:
            webs = [c.start("web") for _ in range(args.webs)]
            speech = ["--model", args.model] if args.model else ["--dry-run"]  # any worker may take room rec
            workers = [c.start("worker", *speech) for _ in range(args.workers)]
            if args.kill_worker:
                workers.append(c.start("worker", *speech, "--session", "rec", "--source", args.source,
                                       "--language", "en"))
            for node in c.nodes:
                wait_healthy(node.url)
            if args.kill_worker:
                for node in webs:
                    wait_serving(node.url, "rec")
            nginx = start_nginx(folder / "nginx", [w.port for w in webs])
            import urllib.request
            for i in range(args.rooms):
                req = urllib.request.Request(f"{nginx.url}/api/sessions", method="POST",
                                             data=json.dumps({"id": f"room{i}"}).encode(),
                                             headers={"Authorization": f"Bearer {STAFF}",
                                                      "Content-Type": "application/json"})
                urllib.request.urlopen(req).read()
            time.sleep(3)  # every node and a worker have every room
            r = redis.Redis.from_url(url)
            pids = {**{f"web{i}": w.proc.pid for i, w in enumerate(webs) if w.proc},
                    **{f"worker{i}": w.proc.pid for i, w in enumerate(workers) if w.proc},
                    "nginx": nginx.proc.pid, "redis": int(r.info("server")["process_id"])}
            ws = nginx.url.replace("http://", "ws://")
            common = ["--rate", str(args.rate), "--duration", str(args.duration), "--storm", "0",
                      "--chair-token", CHAIR, "--langs", "en", "--settle", "1"]
            runs = ([("main", args.readers, args.load_workers)] if args.readers else []) + [
                (f"room{i}", args.room_readers, 1) for i in range(args.rooms)]
            if args.kill_worker:
                runs.append(("rec", args.rec_readers, 1))
            first = 0  # each run's phones have addresses of their own (nginx limits sockets per address)
            for n, (room, readers, procs) in enumerate(runs):
                log = open(folder / f"load-{room}.log", "wb")
                talk = common if room != "rec" else [x for x in common if x not in ("--chair-token", CHAIR)]
                loads.append(subprocess.Popen(
                    [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--url", f"{ws}/ws/captions/{room}",
                     "--readers", str(readers), "--workers", str(procs), "--per-ip", "25",
                     "--first-address", str(first), *talk],
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)}))
                first += readers // 25 + 1
            before_cpu, before_cmd, t0 = cpu(pids), commandstats(r), time.time()
            kills = sorted((at, what) for at, what in ((args.kill_web, "web"), (args.kill_worker, "worker")) if at)
            for at, what in kills:
                time.sleep(max(0.0, t0 + at + 10 - time.time()))  # connecting takes a while; then the live phase
                if what == "web":
                    webs[0].kill()
                    print(f"killed web0 (pid {pids['web0']}) at {time.time() - t0:.1f} s")
                else:
                    t_kill, took, next_caption = takeover(r, workers, "rec")
                    print(f"killed the worker owning rec at {t_kill - t0:.1f} s; another worker held its lease "
                          f"{took:.2f} s later; the next caption was in the log {next_caption:.2f} s after the kill")
            codes = [proc.wait() for proc in loads]
            wall = time.time() - t0
            after_cpu, after_cmd = cpu(pids), commandstats(r)
            posted = sum(int(r.xlen(RoomKeys(room).captions("en"))) for room, _, _ in runs)
            print(f"cluster: {args.webs} web nodes, {args.workers} workers, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f}; {posted} captions in {len(runs)} rooms in {wall:.0f} s")
            for room, _, _ in runs:
                print(f"--- {room}")
                lines = (folder / f"load-{room}.log").read_text().splitlines()
                print("\n".join(x for x in lines if x.strip().startswith(("live", "loss", "RESULT", "connected", "cut off"))
                                or "p99" in x))
            if args.kill_worker:
                print(f"--- rec, the recording whose worker was killed: {recording_report(r, 'rec')}")
            print("CPU seconds per second of the run (whole run, connecting included):")
            for name in pids:
                print(f"  {name:<8} {(after_cpu[name] - before_cpu[name]) / wall:6.3f}")
            calls = {k: after_cmd.get(k, 0) - before_cmd.get(k, 0) for k in after_cmd}
            total = sum(calls.values())
            top = ", ".join(f"{k} {v / max(posted, 1):.1f}" for k, v in sorted(calls.items(), key=lambda kv: -kv[1])[:8])
            print(f"Redis commands per caption: {total / max(posted, 1):.1f} ({top})")
            print(f"load runs' exit codes: {codes} (0: no loss, no duplicates)")
            return max(codes)
        finally:
            for proc in loads:
                if proc.poll() is None:
                    proc.kill()
            if nginx is not None:
                nginx.stop()
            c.stop()


if __name__ == "__main__":
    sys.exit(main())
