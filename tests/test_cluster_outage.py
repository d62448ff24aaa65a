"""Redis itself goes away under a running cluster (real redis-server, a web node and a dry-run worker as
`assistant serve` subprocesses): paused with SIGSTOP, then shut down and started again on its port. The
web node answers what needs Redis with 503 ``busy`` meanwhile (never a 500), a capture station resends
what Redis did not take, and everything works again once Redis is back."""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
import redis

from assistant.audio.sources import FileSource
from assistant.capture import stream_capture
from tests.helpers.cluster import CHAIR, STAFF, Cluster, Node, wait_healthy, wait_serving
from tests.helpers.redis_server import free_port, redis_server
from tests.test_cluster import JFK, stored_once

STAFF_AUTH = {"Authorization": f"Bearer {STAFF}"}
CHAIR_AUTH = {"Authorization": f"Bearer {CHAIR}"}


class Outage:
    """A one-node cluster whose Redis the test pauses, stops and starts again (same port, same data)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.cluster = Cluster(self.url, folder)
        self._redis = ExitStack()

    def start_redis(self) -> None:
        self._redis.enter_context(redis_server(self.folder / "redis", port=self.port))

    def stop_redis(self) -> None:
        """A clean shutdown; started again, it has its data back (the append-only file)."""
        self._redis.close()

    def redis_pid(self) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.info("server")["process_id"])
        finally:
            client.close()


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Outage, Node]]:
    o = Outage(tmp_path_factory.mktemp("outage"))
    o.start_redis()
    try:
        web = o.cluster.start("web")
        o.cluster.start("worker", "--dry-run")
        for node in o.cluster.nodes:
            wait_healthy(node.url)
        yield o, web
    finally:
        o.cluster.stop()
        o.stop_redis()


async def create(http: aiohttp.ClientSession, web: Node, sid: str) -> None:
    async with http.post(f"{web.url}/api/sessions", json={"id": sid, "title": sid}, headers=STAFF_AUTH) as resp:
        assert resp.status == 201, await resp.text()
    await asyncio.to_thread(wait_serving, web.url, sid)


async def until_answered(http: aiohttp.ClientSession, method: str, url: str,
                         body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A chair's command sent again after each 503 (no worker holds the room yet), for up to a minute."""
    async with asyncio.timeout(60):
        while True:
            async with http.request(method, url, json=body, headers=CHAIR_AUTH) as resp:
                status, answer = resp.status, await resp.json()
            if status != 503:
                return status, answer
            await asyncio.sleep(0.5)


@pytest.mark.timeout(180)
async def test_while_redis_is_paused_a_web_node_says_busy_and_its_capture_station_loses_nothing(
        outage: tuple[Outage, Node]) -> None:
    o, web = outage
    async with aiohttp.ClientSession() as http:
        await create(http, web, "paused")
        source = FileSource(JFK, realtime=True)  # 11 s of speech, sent as it is spoken
        capture = asyncio.create_task(stream_capture(web.url, "paused", CHAIR, source, stream_id="paused-station",
                                                     backoff_initial_s=0.2, backoff_max_s=1.0))
        await asyncio.sleep(2)
        pid = o.redis_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            async with http.get(f"{web.url}/api/sessions", headers=STAFF_AUTH,
                                timeout=aiohttp.ClientTimeout(total=60)) as resp:
                status, error = resp.status, (await resp.json())["error"]
        finally:
            os.kill(pid, signal.SIGCONT)
        assert (status, error["code"]) == (503, "busy"), error
        assert "cannot reach Redis" in error["message"]
        async with asyncio.timeout(90):
            await capture  # it reconnected and resent from what Redis had
        async with http.get(f"{web.url}/api/sessions", headers=STAFF_AUTH) as resp:
            assert resp.status == 200
    assert abs(stored_once(o.url, "paused", "paused-station") - 176_000) < 400  # all 11 s, once
    log = web.log.read_text(encoding="utf-8", errors="replace")
    assert "Redis unreachable" in log and "Traceback" not in log and "unexpected error" not in log


@pytest.mark.timeout(180)  # a web node that spins on its lost subscription never answers: this fails, not hangs
async def test_after_redis_restarts_a_web_node_serves_again_and_chairs_commands_are_answered(
        outage: tuple[Outage, Node]) -> None:
    o, web = outage
    async with aiohttp.ClientSession() as http:
        await create(http, web, "restart")
    o.stop_redis()
    await asyncio.sleep(4)  # down long enough for every loop of the web node to fail and retry
    o.start_redis()
    await asyncio.to_thread(wait_healthy, web.url, 30)
    async with aiohttp.ClientSession() as http:
        status, body = await until_answered(http, "PATCH", f"{web.url}/api/sessions/restart", {"title": "Restarted"})
    assert (status, body.get("title")) == (200, "Restarted"), body
    log = web.log.read_text(encoding="utf-8", errors="replace")
    assert "listening again" in log and "Traceback" not in log


@pytest.mark.timeout(180)  # a worker stuck dropping the rooms it lost never serves them again: this fails, not hangs
async def test_a_worker_whose_leases_lapsed_while_redis_was_paused_serves_its_rooms_again(
        outage: tuple[Outage, Node]) -> None:
    o, web = outage
    worker = o.cluster.nodes[1]
    async with aiohttp.ClientSession() as http:
        await create(http, web, "lapsed")
        async with http.post(f"{web.url}/api/sessions/lapsed/captions", json={"text": "Before"},
                             headers=CHAIR_AUTH) as resp:
            assert resp.status == 201, await resp.text()  # the worker serves the room
        pid = o.redis_pid()
        os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(8)  # longer than a lease: the worker must drop its rooms, then take them again
        os.kill(pid, signal.SIGCONT)
        status, body = await until_answered(http, "POST", f"{web.url}/api/sessions/lapsed/captions",
                                            {"text": "Back again"})
    assert (status, body.get("text")) == (201, "Back again"), body
    log = worker.log.read_text(encoding="utf-8", errors="replace")
    assert "room lapsed: lease lost" in log and "Traceback" not in log
    assert log.count("took room lapsed") >= 2  # dropped, then taken again
