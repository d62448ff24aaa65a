"""Hold a full hall: many delegates' phones on one caption server, plus a reconnect storm.

Opens N caption sockets (the ``websockets`` library, as a third-party client would) spread over the
languages the session offers, from several client processes so that the load tool is not the
bottleneck, and reports:

  delivery latency   arrival − the time the chair posted the caption (text mode), or
                     arrival − first arrival at any client (recording mode); p50/p95/p99
  spread             last − first arrival of one caption across every client of its language
  server             CPU% (user+sys over the live phase) and RSS, via psutil on the server pid
  idle memory        (RSS with N idle readers − RSS before them) / N
  loss, duplicates   checked on every client's seq (no gaps, nothing twice), across reconnects
  reconnect storm    K clients drop at once (transport aborted, like a Wi-Fi blip) and reconnect
                     with since=<last seq>, all at once; time until every one has caught up (hello
                     received and every caption up to its seq), loss and duplicates
  listen overflows   connects the kernel dropped because the server's accept queue was full
                     (each waits for a SYN retransmit, 1 s then 3 s): try --backlog 1024

Server, one of:
  (default)            a text-only server started here in a subprocess (the real aiohttp app,
                       `make_app`, with the fake translator so en/fr/de/es exist); captions are
                       posted as the chair at --rate per second
  --source FILE...     `assistant serve --source FILE --model tiny.en` replays a recording (several
                       files are joined); clients read whatever it recognises
  --url URL            attach to a running server (ws://host:port/ws/captions/SESSION); add
                       --chair-token to post captions and --server-pid for CPU/RSS

    .venv/bin/python benchmarks/load.py --readers 2000 --rate 2 --duration 30 --storm 800
    .venv/bin/python benchmarks/load.py --readers 300 --source tests/data/corpus/en/*.wav

Only 127.0.0.1 is loaded. Client sockets bind to 127.0.0.x source addresses (--per-ip each) so the
server's per-IP connection limit applies as it would to distinct phones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import wave
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parent.parent
CHAIR_TOKEN = "load-benchmark-chair-token"
FAKE_LANGS = ("en", "fr", "de", "es")
CONNECT_CONCURRENCY = 64  # handshakes in flight per client process
RETRY_DELAY_S = 0.25  # a refused or failed connect is retried after this (phones back off too)
SENTENCES = (
    "Good morning everyone and welcome to the second day of the conference on coastal resilience.",
    "Our first speaker has spent ten years measuring sediment transport along the northern shore.",
    "Please keep your phones on silent, but do keep this page open to follow the captions.",
    "The results suggest that managed retreat is cheaper than sea walls over a thirty-year horizon.",
    "We will take questions at the end; the microphones are on either side of the hall.",
    "Coffee is served in the foyer at half past ten, and lunch is on the terrace.",
)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def source_address(index: int, per_ip: int, first: int = 0) -> str:
    """127.0.x.y for client ``index``: ``per_ip`` clients share one loopback address; ``first`` addresses
    are skipped (left to other load runs beside this one)."""
    slot = first + index // per_ip
    return f"127.{1 + slot // 250 // 250}.{slot // 250 % 250}.{slot % 250 + 2}"


# ---------------------------------------------------------------- client processes

@dataclass
class Client:
    lang: str
    addr: str
    last: int = 0
    hello_seq: int = -1
    dupes: int = 0
    gaps: int = 0
    reconnects: int = 0
    refused: int = 0
    unexpected: int = 0
    dropping: bool = False
    resuming: bool = False
    resumed_at: float | None = None
    cut_at: float | None = None  # when the server cut this client off (not a planned drop), until it caught up
    cuts: list[tuple[float, float]] = field(default_factory=list)  # (cut at, caught up at) of each such cut
    partials: int = 0
    opened_at: float | None = None
    ws: Any = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class Worker:
    """One client process: its share of the readers on one event loop, driven by commands on a pipe."""

    def __init__(self, conn: Connection, url: str, clients: list[tuple[str, str]]) -> None:
        self.conn = conn
        self.url = url
        self.clients = [Client(lang, addr) for lang, addr in clients]
        self.ids: dict[tuple[str, int], str] = {}
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []
        self.gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def ready() -> None:
            loop.remove_reader(self.conn.fileno())
            if not fut.done():
                fut.set_result(self.conn.recv())

        loop.add_reader(self.conn.fileno(), ready)
        return await fut

    async def run(self) -> None:
        while True:
            cmd, arg = await self.recv()
            if cmd == "connect":
                t0 = time.time()
                self.tasks = [asyncio.create_task(self.client(c)) for c in self.clients]
                await asyncio.gather(*(c.connected.wait() for c in self.clients))
                self.conn.send({"connect_s": time.time() - t0, "refused": sum(c.refused for c in self.clients)})
            elif cmd == "drop":
                victims = self.clients[:arg]
                for c in victims:
                    c.dropping, c.resuming, c.resumed_at, c.hello_seq = True, True, None, -1
                    c.connected.clear()
                t_drop = time.time()
                for c in victims:
                    c.ws.transport.abort()  # no closing handshake: the phone just vanished
                self.conn.send({"t_drop": t_drop})
            elif cmd == "wait_resumed":
                deadline = time.time() + arg
                victims = [c for c in self.clients if c.resuming]
                while any(c.resumed_at is None for c in victims) and time.time() < deadline:
                    await asyncio.sleep(0.02)
                self.conn.send({"resumed": [c.resumed_at for c in victims], "opened": [c.opened_at for c in victims],
                                "refused": sum(c.refused for c in victims)})
                for c in victims:
                    c.resuming = False
            elif cmd == "wait_seqs":
                targets, timeout = arg
                deadline = time.time() + timeout
                while time.time() < deadline and any(c.last < targets.get(c.lang, 0) for c in self.clients):
                    await asyncio.sleep(0.05)
                self.conn.send({"behind": sum(c.last < targets.get(c.lang, 0) for c in self.clients)})
            elif cmd == "report":
                self.stopping = True
                for t in self.tasks:
                    t.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                self.conn.send({
                    "ids": self.ids,
                    "clients": [{"lang": c.lang, "seqs": np.array(c.seqs, dtype=np.int32),
                                 "times": np.array(c.times, dtype=np.float64), "dupes": c.dupes, "gaps": c.gaps,
                                 "last": c.last, "reconnects": c.reconnects, "refused": c.refused,
                                 "unexpected": c.unexpected, "cuts": c.cuts, "cut_open": c.cut_at is not None,
                                 "partials": c.partials} for c in self.clients],
                })
                return

    async def client(self, c: Client) -> None:
        while not self.stopping:
            try:
                # The hall fills gradually (gated); after a blip every phone comes back at once (not gated).
                async with (self.gate if not c.dropping else contextlib.nullcontext()):
                    ws = await websockets.connect(f"{self.url}?lang={c.lang}&since={c.last}",
                                                  local_addr=(c.addr, 0), compression=None, ping_interval=None,
                                                  open_timeout=120, close_timeout=1, max_size=2 ** 20)
                c.ws = ws
                c.opened_at = time.time()
                c.dropping = False
                c.connected.set()
                async with ws:
                    async for raw in ws:
                        self.frame(c, raw, time.time())
                if not c.dropping:
                    c.unexpected += 1
                    c.cut_at = c.cut_at or time.time()
                    c.hello_seq = -1
                delay = 0.0 if c.dropping else RETRY_DELAY_S
            except InvalidHandshake:
                c.refused += 1  # e.g. 429 too many connections from this address
                delay = RETRY_DELAY_S
            except (ConnectionClosed, OSError, TimeoutError):
                if not c.dropping:
                    c.unexpected += 1
                    c.cut_at = c.cut_at or time.time()
                    c.hello_seq = -1
                delay = 0.0 if c.dropping else RETRY_DELAY_S
            if not self.stopping:
                c.reconnects += 1
                await asyncio.sleep(delay)

    def frame(self, c: Client, raw: str | bytes, now: float) -> None:
        msg = json.loads(raw)
        kind = msg["type"]
        if kind == "caption":
            seq = msg["seq"]
            if seq <= c.last:
                c.dupes += 1
                return
            if seq != c.last + 1:
                c.gaps += seq - c.last - 1
            c.last = seq
            c.seqs.append(seq)
            c.times.append(now)
            key = (c.lang, seq)
            if key not in self.ids:
                self.ids[key] = msg["id"]
        elif kind == "hello":
            c.hello_seq = msg["seq"]
        elif kind == "partial":
            c.partials += 1
        if c.resuming and c.resumed_at is None and 0 <= c.hello_seq <= c.last:
            c.resumed_at = now
        if c.cut_at is not None and 0 <= c.hello_seq <= c.last:
            c.cuts.append((c.cut_at, now))
            c.cut_at = None


def worker_main(conn: Connection, url: str, clients: list[tuple[str, str]]) -> None:
    raise_fd_limit()
    asyncio.run(Worker(conn, url, clients).run())


class Workers:
    """The parent's handle on the client processes."""

    def __init__(self, count: int, url: str, assignment: list[tuple[str, str]]) -> None:
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for w in range(count):
            parent, child = ctx.Pipe()
            share = assignment[w::count]
            p = ctx.Process(target=worker_main, args=(child, url, share), daemon=True)
            p.start()
            self.conns.append(parent)
            self.procs.append(p)
        self.sizes = [len(assignment[w::count]) for w in range(count)]

    async def ask(self, cmd: str, args: list[Any]) -> list[Any]:
        for conn, arg in zip(self.conns, args):
            conn.send((cmd, arg))
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(*(loop.run_in_executor(None, conn.recv) for conn in self.conns)))

    async def all(self, cmd: str, arg: Any = None) -> list[Any]:
        return await self.ask(cmd, [arg] * len(self.conns))

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.procs:
            try:
                t = psutil.Process(p.pid).cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


# ---------------------------------------------------------------- the server under test

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_child(port: int, data_dir: str, langs: list[str], backlog: int, profile: str | None = None) -> None:
    """The text-only server, in its own process: the real app with the fake translator."""
    import dataclasses

    from aiohttp import web

    from assistant.config import load
    from assistant.server.app import make_app
    from assistant.translate import FakeTranslator, TranslationService

    raise_fd_limit()
    settings = load(None, {"ASSISTANT_CHAIR_TOKEN": CHAIR_TOKEN, "ASSISTANT_STAFF_TOKEN": CHAIR_TOKEN + "-staff",
                           "ASSISTANT_DATA_DIR": data_dir})
    settings = dataclasses.replace(settings, sessions=(dataclasses.replace(settings.sessions[0], source="none"),))
    service = TranslationService(FakeTranslator({(langs[0], t) for t in langs[1:]}),
                                 workers=settings.translation.workers)
    app = make_app(settings, translator=service)
    if not profile:
        web.run_app(app, host="127.0.0.1", port=port, print=None, shutdown_timeout=5, backlog=backlog)
        return
    import cProfile

    with cProfile.Profile() as prof:
        web.run_app(app, host="127.0.0.1", port=port, print=None, shutdown_timeout=5, backlog=backlog)
    prof.dump_stats(profile)


def join_recordings(files: list[Path], out: Path, gap_s: float = 0.6) -> float:
    chunks = []
    for f in files:
        with wave.open(str(f)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1, f"{f}: need 16 kHz mono WAV"
            chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"))
            chunks.append(np.zeros(int(gap_s * 16000), dtype="<i2"))
    audio = np.concatenate(chunks)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(audio.tobytes())
    return len(audio) / 16000


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start the server subprocess; return it, the base http URL and the session id."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="load-")
    env = {**os.environ, "ASSISTANT_DATA_DIR": data, "ASSISTANT_CHAIR_TOKEN": CHAIR_TOKEN,
           "ASSISTANT_STAFF_TOKEN": CHAIR_TOKEN + "-staff"}
    if args.source:
        wav = Path(data) / "recording.wav"
        seconds = join_recordings([Path(f) for f in args.source], wav)
        print(f"recording: {len(args.source)} file(s), {seconds:.0f} s, model {args.model}")
        cmd = [sys.executable, "-m", "assistant", "serve", "--source", str(wav), "--session", "main",
               "--language", "en", "--model", args.model, "--host", "127.0.0.1", "--port", str(port), "--no-qr"]
    else:
        cmd = [sys.executable, __file__, "--serve-child", str(port), "--data", data, "--langs", ",".join(args.langs),
               "--backlog", str(args.backlog)]
        if args.profile:
            cmd += ["--profile", str(Path(args.profile).resolve())]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", "main"


async def wait_healthy(base: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"server at {base} did not come up in {timeout:.0f} s")
            await asyncio.sleep(0.2)


async def hello(ws_url: str, lang: str | None = None) -> dict[str, Any]:
    url = ws_url + (f"?lang={lang}&since=1000000000" if lang else "?since=1000000000")
    async with websockets.connect(url, compression=None) as ws:
        msg: dict[str, Any] = json.loads(await ws.recv())
        return msg


async def latest_seqs(ws_url: str, langs: list[str]) -> dict[str, int]:
    return {lang: int((await hello(ws_url, lang))["seq"]) for lang in langs}


# ---------------------------------------------------------------- the run

class Chair:
    """Posts captions at a steady rate and remembers when each was posted."""

    def __init__(self, base: str, session: str, token: str) -> None:
        self.url = f"{base}/api/sessions/{session}/captions"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.posted: dict[str, tuple[float, str]] = {}  # id → (posted at, phase)
        self.failures = 0
        self.count = 0

    async def talk(self, http: aiohttp.ClientSession, rate: float, seconds: float, phase: str) -> None:
        start = time.time()
        n = int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.time()))
            text = f"{SENTENCES[self.count % len(SENTENCES)]} ({self.count})"
            self.count += 1
            t = time.time()
            async with http.post(self.url, json={"text": text}, headers=self.headers) as resp:
                if resp.status != 201:
                    self.failures += 1
                    continue
                self.posted[(await resp.json())["id"]] = (t, phase)


class CpuMeter:
    def __init__(self, pid: int | None) -> None:
        self.proc = psutil.Process(pid) if pid else None
        self.samples: list[float] = []
        self.peak_rss = 0

    def cpu(self) -> float:
        if self.proc is None:
            return float("nan")
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def rss(self) -> int:
        if self.proc is None:
            return 0
        r = int(self.proc.memory_info().rss)
        self.peak_rss = max(self.peak_rss, r)
        return r

    async def sample(self, stop: asyncio.Event) -> None:
        if self.proc is None:
            return
        self.proc.cpu_percent(None)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
            self.samples.append(self.proc.cpu_percent(None))
            self.rss()


def listen_overflows() -> int:
    """This machine's count of connections dropped because a listen queue was full (TcpExt)."""
    try:
        rows = [r.split() for r in Path("/proc/net/netstat").read_text().splitlines() if r.startswith("TcpExt:")]
        return int(dict(zip(rows[0], rows[1]))["ListenOverflows"])
    except (OSError, KeyError, IndexError, ValueError):
        return -1


def pct(values: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def line(label: str, values: list[float] | np.ndarray) -> str:
    v = np.asarray(values) * 1000
    return (f"  {label:<28} n={len(v):>7}  p50 {pct(v, 50):7.1f} ms  p95 {pct(v, 95):7.1f} ms  "
            f"p99 {pct(v, 99):7.1f} ms  max {(v.max() if len(v) else float('nan')):7.1f} ms")


async def run(args: argparse.Namespace) -> int:
    raise_fd_limit()
    proc = None
    if args.url:
        ws_url = args.url
        base = ws_url.replace("ws://", "http://").replace("wss://", "https://").split("/ws/")[0]
        session = ws_url.rstrip("/").rsplit("/", 1)[1]
        pid = args.server_pid
        token = args.chair_token
    else:
        proc, base, session = start_server(args)
        ws_url = f"{base.replace('http://', 'ws://')}/ws/captions/{session}"
        pid = proc.pid
        token = None if args.source else CHAIR_TOKEN
    meter = CpuMeter(pid)
    overflows0 = listen_overflows()
    workers: Workers | None = None
    try:
        await wait_healthy(base)
        offered = (await hello(ws_url))["languages"]
        langs = [lang for lang in args.langs if lang in offered] or [offered[0]]
        print(f"load: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
              f"{args.readers} readers over {langs} in {args.workers} client processes; server pid {pid}")
        assignment = [(langs[i % len(langs)], source_address(i, args.per_ip, args.first_address))
                      for i in range(args.readers)]
        await asyncio.sleep(1.0)
        rss_before = meter.rss()
        workers = Workers(args.workers, ws_url, assignment)
        t0 = time.time()
        connected = await workers.all("connect")
        print(f"connected {args.readers} readers in {time.time() - t0:.1f} s "
              f"(refused and retried: {sum(r['refused'] for r in connected)})")
        await asyncio.sleep(args.settle)
        rss_idle = meter.rss()
        if meter.proc is not None:
            per_reader = (rss_idle - rss_before) / args.readers
            print(f"server RSS {rss_before / 2**20:.1f} MiB before readers, {rss_idle / 2**20:.1f} MiB with "
                  f"{args.readers} idle readers: {per_reader / 1024:.1f} KiB per idle reader")

        chair = Chair(base, session, token) if token else None
        stop = asyncio.Event()
        sampler = asyncio.create_task(meter.sample(stop))
        cpu0, wcpu0, wall0, load0 = meter.cpu(), workers.cpu_seconds(), time.time(), os.getloadavg()[0]
        async with aiohttp.ClientSession() as http:
            if chair is not None:
                await chair.talk(http, args.rate, args.duration, "live")
            else:
                await asyncio.sleep(args.duration)
            wall1 = time.time()
            cpu1, wcpu1 = meter.cpu(), workers.cpu_seconds()
            stop.set()
            await sampler
            live_end = time.time()
            await asyncio.sleep(1.0)
            targets = await latest_seqs(ws_url, langs)
            behind = await workers.all("wait_seqs", (targets, 20.0))
            print(f"live phase: {wall1 - wall0:.1f} s, server CPU {100 * (cpu1 - cpu0) / (wall1 - wall0):.0f}% "
                  f"(1 s samples max {max(meter.samples, default=float('nan')):.0f}%), load tool CPU "
                  f"{100 * (wcpu1 - wcpu0) / (wall1 - wall0):.0f}%, server RSS {meter.rss() / 2**20:.1f} MiB, "
                  f"load average {load0:.2f} → {os.getloadavg()[0]:.2f}; "
                  f"readers still behind after 20 s: {sum(b['behind'] for b in behind)}")

            storm_report = None
            if args.storm:
                k = min(args.storm, args.readers)
                share = [k * size // args.readers for size in workers.sizes]
                share[0] += k - sum(share)
                talking = (asyncio.create_task(chair.talk(http, args.rate, args.storm_talk, "storm"))
                           if chair is not None else None)
                await asyncio.sleep(min(1.0, args.storm_talk / 2))
                scpu0, wcpu0 = meter.cpu(), workers.cpu_seconds()
                dropped = await workers.ask("drop", share)
                t_drop = min(d["t_drop"] for d in dropped)
                resumed = await workers.all("wait_resumed", 30.0)
                times = [t for r in resumed for t in r["resumed"]]
                missing = sum(t is None for t in times)
                done = [t - t_drop for t in times if t is not None]
                storm_report = (k, done, missing, sum(r["refused"] for r in resumed))
                opened = [t - t_drop for r in resumed for t in r["opened"] if t is not None]
                storm_s = max(done, default=0.0)
                print(f"storm: handshakes done p50 {pct(opened, 50):.2f} s, max {max(opened):.2f} s after the drop; "
                      f"CPU while resuming: server {meter.cpu() - scpu0:.2f} s, load tool "
                      f"{workers.cpu_seconds() - wcpu0:.2f} s (of {storm_s:.2f} s × {os.cpu_count()} cores)")
                if talking is not None:
                    await talking
                await asyncio.sleep(1.0)
                targets = await latest_seqs(ws_url, langs)
                await workers.all("wait_seqs", (targets, 20.0))
        reports = await workers.all("report")
    finally:
        if workers is not None:
            workers.stop()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(f"listen queue overflows on this machine during the run: {listen_overflows() - overflows0} "
          "(each costs a client a SYN retransmit, 1 s or more)")
    return summarise(args, reports, targets, chair, storm_report, live_end)


def summarise(args: argparse.Namespace, reports: list[dict[str, Any]], targets: dict[str, int],
              chair: Chair | None, storm: tuple[int, list[float], int, int] | None, live_end: float) -> int:
    ids: dict[tuple[str, int], str] = {}
    for r in reports:
        ids.update(r["ids"])
    clients = [c for r in reports for c in r["clients"]]
    # Every client must hold exactly seq 1..latest of its language, each once (a recording may have made
    # more captions after the latest seqs were read: the newest any client holds counts too).
    latest = dict(targets)
    for c in clients:
        latest[c["lang"]] = max(latest.get(c["lang"], 0), int(c["seqs"].max()) if len(c["seqs"]) else 0)
    lost = sum(latest[c["lang"]] - len(c["seqs"]) for c in clients)
    dupes = sum(c["dupes"] for c in clients)
    gaps = sum(c["gaps"] for c in clients)
    disorder = sum(int(np.any(np.diff(c["seqs"]) != 1)) or int(len(c["seqs"]) and c["seqs"][0] != 1)
                   for c in clients)
    unexpected = sum(c["unexpected"] for c in clients)

    arrivals: dict[tuple[str, int], list[float]] = defaultdict(list)
    for c in clients:
        for seq, t in zip(c["seqs"].tolist(), c["times"].tolist()):
            arrivals[(c["lang"], seq)].append(t)
    latency: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    spreads: dict[str, list[float]] = defaultdict(list)
    for (lang, seq), times in arrivals.items():
        cid = ids.get((lang, seq))
        if chair is not None:
            posted = chair.posted.get(cid or "")
            if posted is None:
                continue
            t_post, phase = posted
        else:
            t_post, phase = min(times), "live" if min(times) < live_end else "after"
        kind = "spoken" if lang == args.langs[0] else "translated"
        latency[phase][kind].extend(t - t_post for t in times)
        latency[phase]["all"].extend(t - t_post for t in times)
        if phase == "live":
            spreads[kind].append(max(times) - min(times))

    print()
    basis = "arrival − posted by the chair" if chair is not None else "arrival − first arrival at any client"
    print(f"delivery latency ({basis}):")
    for phase in ("live", "storm"):
        for kind in ("all", "spoken", "translated"):
            if latency[phase][kind]:
                print(line(f"{phase} / {kind}", latency[phase][kind]))
    print("spread, first → last client of one caption:")
    for kind, values in spreads.items():
        print(line(kind, values))
    if chair is not None:
        print(f"captions posted: {chair.count} ({chair.failures} refused); latest seq per language {targets}")
    print(f"loss: {lost} captions missing, {gaps} gaps seen, {dupes} duplicates, {disorder} clients out of order; "
          f"{unexpected} unexpected disconnects")
    cuts = [back - cut for c in clients for cut, back in c["cuts"]]
    if unexpected:
        never = sum(c["cut_open"] for c in clients)
        print(f"cut off by the server: {len(cuts)} reconnects caught up in p50 {pct(cuts, 50):.2f} s, "
              f"max {max(cuts, default=float('nan')):.2f} s after the cut; {never} still cut off at the end")
    partials = [c["partials"] for c in clients]
    if sum(partials):
        print(f"partial frames per reader: p50 {pct(partials, 50):.0f}, min {min(partials)}, max {max(partials)} "
              "(a reader behind gets only the newest)")
    if storm is not None:
        k, done, missing, refused = storm
        print(f"reconnect storm: {k} readers dropped at once; all resumed in "
              f"{max(done, default=float('nan')):.2f} s (p50 {pct(done, 50):.2f} s, p95 {pct(done, 95):.2f} s); "
              f"{missing} never resumed; {refused} refused and retried")
    ok = lost == 0 and dupes == 0 and gaps == 0 and disorder == 0
    print("RESULT:", "no loss, no duplicates" if ok else "LOSS OR DUPLICATES")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--readers", type=int, default=2000)
    p.add_argument("--langs", default=",".join(FAKE_LANGS),
                   help="languages to spread readers over (those the session offers); the first is the spoken one")
    p.add_argument("--rate", type=float, default=2.0, help="captions per second posted by the chair")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of live captions")
    p.add_argument("--storm", type=int, default=800, help="readers that drop at once and reconnect (0: none)")
    p.add_argument("--storm-talk", type=float, default=10.0, help="seconds of captions around the storm")
    p.add_argument("--workers", type=int, default=3, help="client processes")
    p.add_argument("--per-ip", type=int, default=25, help="clients per 127.0.0.x source address")
    p.add_argument("--first-address", type=int, default=0,
                   help="skip this many source addresses (load runs side by side must not share addresses)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring memory")
    p.add_argument("--source", nargs="+", help="recording(s) to replay through the real model instead")
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--url", help="attach: ws://host:port/ws/captions/SESSION")
    p.add_argument("--chair-token", help="with --url: post captions as the chair")
    p.add_argument("--server-pid", type=int, help="with --url: measure this process")
    p.add_argument("--backlog", type=int, default=1024,
                   help="text-only server: listen backlog (`assistant serve` uses 1024)")
    p.add_argument("--profile", help="text-only server: write a cProfile of the server to this file")
    p.add_argument("--serve-child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    if args.serve_child:
        serve_child(args.serve_child, args.data, args.langs, args.backlog, args.profile)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
