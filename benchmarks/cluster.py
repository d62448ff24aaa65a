"""A cluster on this machine under load: Redis, web nodes and dry-run workers behind nginx.

Starts redis-server (``appendfsync always``), ``--webs`` web nodes and ``--workers`` dry-run
workers as `assistant serve` subprocesses and nginx configured from docs/deploy-nginx.md
(tests/helpers/cluster.py), then runs ``benchmarks/load.py --url`` against nginx: ``--readers``
readers of room ``main`` plus ``--rooms`` other rooms with ``--room-readers`` each, the chair
posting ``--rate`` captions a second in every room. ``--kill-web S`` kills one web node with
SIGKILL S seconds into the live phase (its readers reconnect through nginx and resume). Reports
each load run's own summary (latency, loss, duplicates), then the CPU seconds each process used
per second of the live phase, and Redis commands per caption posted (INFO commandstats).

    PYTHONPATH=. .venv/bin/python benchmarks/cluster.py --readers 2000 --rooms 10 --room-readers 100
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.cluster import CHAIR, STAFF, Cluster, start_nginx, wait_healthy  # noqa: E402
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
    args = p.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    with redis_server(folder / "redis") as url:
        c = Cluster(url, folder)
        nginx = None
        loads: list[subprocess.Popen[bytes]] = []
        try:
            webs = [c.start("web") for _ in range(args.webs)]
            workers = [c.start("worker", "--dry-run") for _ in range(args.workers)]
            for node in c.nodes:
                wait_healthy(node.url)
            nginx = start_nginx(folder / "nginx", [w.port for w in webs])
            import urllib.request
            import json
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
            runs = [("main", args.readers, args.load_workers)] + [(f"room{i}", args.room_readers, 1)
                                                                   for i in range(args.rooms)]
            for n, (room, readers, procs) in enumerate(runs):
                log = open(folder / f"load-{room}.log", "wb")
                loads.append(subprocess.Popen(
                    [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--url", f"{ws}/ws/captions/{room}",
                     "--readers", str(readers), "--workers", str(procs), "--per-ip", "25", *common],
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)}))
            before_cpu, before_cmd, t0 = cpu(pids), commandstats(r), time.time()
            if args.kill_web:
                time.sleep(args.kill_web + 10)  # connecting takes a while; then the live phase
                webs[0].kill()
                print(f"killed web0 (pid {pids['web0']}) at {time.time() - t0:.1f} s")
            codes = [proc.wait() for proc in loads]
            wall = time.time() - t0
            after_cpu, after_cmd = cpu(pids), commandstats(r)
            posted = sum(int(r.xlen(f"as:r:{{{room}}}:c:en")) for room, _, _ in runs)
            print(f"cluster: {args.webs} web nodes, {args.workers} workers, {os.cpu_count()} cores, "
                  f"load average {os.getloadavg()[0]:.2f}; {posted} captions in {len(runs)} rooms in {wall:.0f} s")
            for room, _, _ in runs:
                print(f"--- {room}")
                lines = (folder / f"load-{room}.log").read_text().splitlines()
                print("\n".join(x for x in lines if x.strip().startswith(("live", "loss", "RESULT", "connected"))
                                or "p99" in x))
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
