"""``/metrics`` in Prometheus's text format: readers per room and language, lag, translation, pass time."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from assistant.config import Settings
from assistant.server.app import make_app
from tests.conftest import ManualClock


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_readers_per_room_and_language_are_scraped(aiohttp_client: Any, settings: Settings) -> None:
    client = await aiohttp_client(make_app(settings, clock=ManualClock().clock))
    ws = await client.ws_connect("/ws/captions/main")
    await ws.receive()  # hello: the reader is counted
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    got = samples(await resp.text())
    assert got[("captions_readers", (("lang", "en"), ("room", "main")))] == 1.0
    assert ("captions_recognition_pass_seconds_count", ()) in got
    assert got[("captions_dropped_audio_seconds_total", ())] == 0.0
    await ws.close()
