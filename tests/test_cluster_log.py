"""The caption log, the owner's fenced writer and the bus on a real redis-server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from assistant import protocol
from assistant.captions import Caption, Partial, Session
from assistant.clock import SYSTEM_CLOCK, Clock
from assistant.cluster import scripts
from assistant.cluster.audio import entry_fields
from assistant.cluster.bus import RedisBus
from assistant.cluster.host import in_order
from assistant.cluster.keys import OPEN, ROOMS, SESSION_KEYS, RoomKeys, session_json, text
from assistant.cluster.redislog import RedisLog
from assistant.cluster.registry import RemoteRooms
from assistant.cluster.roomstore import RoomStore
from assistant.cluster.worker import Worker
from assistant.cluster.writer import FencedWriter
from assistant.errors import NotFoundError
from assistant.hub import Topic
from assistant.server import auth
from assistant.server.runtime import SessionRuntime
from assistant.store import Store
from assistant.tasks import cancel_and_wait
from tests.helpers.recognizers import silent_factory
from tests.helpers.redis_server import redis_server

SESSION = Session(id="hall", title="Hall", source_lang="en", created_at_ms=1)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_url)
    await r.flushall()
    yield r
    await r.aclose()


def cap(seq: int, text: str, lang: str = "en", cid: str | None = None, **kw: object) -> Caption:
    return Caption("hall", lang, seq, cid or f"id{seq}", seq * 1000, seq * 1000 + 900, text,
                   origin="translation" if lang != "en" else "asr", **kw)  # type: ignore[arg-type]


async def owned_store(client: aioredis.Redis, lost: list[str] | None = None) -> RoomStore:
    await client.set(RoomKeys("hall").lease, "me")
    await client.hset(ROOMS, "hall", session_json(SESSION))
    writer = FencedWriter(client, RoomKeys("hall").lease, "me", on_lost=lambda: (lost if lost is not None else []).append("lost"))
    return RoomStore(SESSION, writer, latest={}, audio_end_ms=0, recent=[])


async def test_captions_resume_exactly_with_corrections_and_versions(client: aioredis.Redis, redis_url: str) -> None:
    store = await owned_store(client)
    for i in range(1, 6):
        store.insert_caption(cap(i, f"line {i}"))
    store.insert_caption(cap(1, "ligne 1", "fr", "id1"))
    fixed = cap(2, "line two", revision=1)
    store.revise(fixed, before="line 2", author="chair", at_ms=5000)
    await store.writer.drain()
    log = RedisLog(client, redis_url)
    assert await log.latest_seq("hall", "en") == 5 and await log.latest_seq("hall", "de") == 0
    assert [c.text for c in await log.captions_since("hall", "en", 1, 2)] == ["line two", "line 3"]
    assert [c.seq for c in await log.captions_since("hall", "en", 5, 10)] == []
    assert [c.text for c in await log.corrected_before("hall", "en", 5, 200)] == ["line two"]
    assert await log.corrected_before("hall", "en", 1, 200) == []
    assert [c.seq for c in await log.revised_since("hall", "en", 5, 4000)] == [2]
    assert await log.revised_since("hall", "en", 5, 6000) == []
    assert [(c.lang, c.text) for c in await log.translations_of("hall", "id1")] == [("en", "line 1"), ("fr", "ligne 1")]
    assert [(r.before, r.after, r.author) for r in await log.revisions("hall", "id2")] == [("line 2", "line two",
                                                                                           "chair")]
    assert await log.languages("hall") == ["en", "fr"] and await log.count_captions("hall", "en") == 5
    assert (await log.get_session("hall")).title == "Hall"
    with pytest.raises(NotFoundError):
        await log.get_session("nope")
    reader = await asyncio.to_thread(log.open_reader)
    try:
        texts = await asyncio.to_thread(lambda: [c.text for c in reader.iter_captions("hall", "en")])
    finally:
        reader.close()
    assert texts == ["line 1", "line two", "line 3", "line 4", "line 5"]
    latest, end, recent = await RoomStore.load(log, SESSION)
    assert latest == {"en": 5, "fr": 1} and end == 5900 and recent[0].text == "line 1"
    again = RoomStore(SESSION, store.writer, latest=latest, audio_end_ms=end, recent=recent)
    assert [c.lang for c in again.translations_of("hall", "id1")] == ["en", "fr"]
    assert [c.seq for c in again.untranslated("hall", "en", "fr", 10)] == [2, 3, 4, 5]
    await store.writer.close()


async def test_a_worker_without_the_lease_writes_nothing(client: aioredis.Redis, redis_url: str) -> None:
    lost: list[str] = []
    store = await owned_store(client, lost)
    store.insert_caption(cap(1, "mine"))
    await store.writer.drain()
    await client.set(RoomKeys("hall").lease, "successor")
    store.insert_caption(cap(2, "a zombie's line"))
    await store.writer.drain()
    assert lost == ["lost"] and store.writer.lost
    assert [c.text for c in await RedisLog(client, redis_url).captions_since("hall", "en", 0, 10)] == ["mine"]
    await store.writer.close()


async def test_a_seq_is_written_once(client: aioredis.Redis, redis_url: str) -> None:
    lost: list[str] = []
    store = await owned_store(client, lost)
    store.insert_caption(cap(1, "first"))
    store.insert_caption(cap(1, "the same seq again"))
    await store.writer.drain()
    assert lost == ["lost"]
    assert [c.text for c in await RedisLog(client, redis_url).captions_since("hall", "en", 0, 10)] == ["first"]
    await store.writer.close()


async def test_frames_reach_subscribers_after_their_caption_is_logged(client: aioredis.Redis,
                                                                      redis_url: str) -> None:
    store = await owned_store(client)
    owner = RedisBus(client)
    owner.attach("hall", store.writer)
    web_client = aioredis.Redis.from_url(redis_url)
    web = RedisBus(web_client)
    await web.follow("hall")
    sub = web.subscribe(Topic("hall", "en"), 64)
    log = RedisLog(web_client, redis_url)
    for i in range(1, 4):
        c = cap(i, f"line {i}")
        store.insert_caption(c)
        owner.publish(Topic("hall", "en"), protocol.caption(c))
    owner.publish(Topic("hall", "en"), protocol.partial(Partial("hall", "en", 0, 1, "sentinel")))
    got = []
    async with asyncio.timeout(10):
        while True:
            frame = await sub.get()
            assert frame is not None
            if frame.kind == "partial":
                break
            assert await log.latest_seq("hall", "en") >= (frame.seq or 0)
            got.append(frame.seq)
    assert got == [1, 2, 3]
    await web.close()
    await web_client.aclose()
    await store.writer.close()


async def test_a_worker_s_ended_rooms_do_not_count_when_rooms_are_spread(client: aioredis.Redis, redis_url: str) -> None:
    log, bus = RedisLog(client, redis_url), RedisBus(client)

    async def room(sid: str) -> None:
        await client.hset(ROOMS, sid, session_json(Session(sid, sid.title(), "en", created_at_ms=1)))
        await client.sadd(OPEN, sid)

    def worker(name: str) -> Worker:
        return Worker(client, log, bus, SYSTEM_CLOCK, recognizer_factory=None, translator=None, name=name)

    first, second = worker("first"), worker("second")
    try:
        await room("morning-1")
        await room("morning-2")
        await first.tick()  # alone: it takes both
        await second.tick()  # nothing left: it serves none
        assert sorted(first.hosts) == ["morning-1", "morning-2"] and first.load == 2 and second.load == 0
        for host in first.hosts.values():
            assert host.runtime is not None
            host.runtime.act(protocol.Control("end"))  # the morning is over; its chairs may still correct
        assert first.load == 0 and sorted(first.hosts) == ["morning-1", "morning-2"]
        await room("afternoon")
        await first.tick()  # two ended rooms do not make it busier than the other: its turn
        assert "afternoon" in first.hosts and first.load == 1
        await room("evening")
        await first.tick()  # now it serves more open rooms than the other: not its turn
        await second.tick()
        assert "evening" in second.hosts and "evening" not in first.hosts
    finally:
        await first.close()
        await second.close()


async def test_the_owner_counts_the_readers_and_room_screens_of_every_web_node(client: aioredis.Redis,
                                                                                 redis_url: str) -> None:
    await client.hset(ROOMS, "screens", session_json(Session("screens", "Screens", "en", created_at_ms=1)))
    await client.sadd(OPEN, "screens")
    log, bus = RedisLog(client, redis_url), RedisBus(client)
    worker = Worker(client, log, bus, SYSTEM_CLOCK, recognizer_factory=None, translator=None, name="w1")
    webs = [RemoteRooms(client, bus, log, Store.open(Path(":memory:")), SYSTEM_CLOCK, name) for name in ("a", "b")]
    try:
        await worker.tick()
        host = worker.hosts["screens"]
        assert host.runtime is not None
        core = host.runtime.core
        for web in webs:
            await web.refresh()
        webs[0].get("screens").reader_joined("fr", screen=True)  # the hall's projector, through node a
        webs[1].get("screens").reader_joined("fr")  # a phone, through node b
        webs[1].get("screens").reader_joined("de")
        for web in webs:
            await web.refresh()
        await host.sum_readers()
        assert (dict(core.readers), dict(core.screens)) == ({"fr": 2, "de": 1}, {"fr": 1})
        webs[0].get("screens").reader_left("fr", screen=True)  # the projector is switched off
        webs[1].get("screens").reader_joined("fr", screen=True)  # and a stage monitor on node b shows French
        for web in webs:
            await web.refresh()
        await host.sum_readers()
        assert (dict(core.readers), dict(core.screens)) == ({"fr": 2, "de": 1}, {"fr": 1})
        await webs[1].close()  # node b goes: its phone and its screen with it
        await host.sum_readers()
        assert (dict(core.readers), dict(core.screens)) == ({}, {})
    finally:
        await worker.close()
        for web in webs:
            await web.close()


async def test_an_ended_room_left_idle_is_parked_and_taken_again_for_a_correction(client: aioredis.Redis,
                                                                                redis_url: str) -> None:
    now = [SYSTEM_CLOCK.now_ms()]
    clock = Clock(lambda: now[0])
    keys = RoomKeys("hall")
    await client.hset(ROOMS, "hall", session_json(SESSION))
    await client.sadd(OPEN, "hall")
    worker = Worker(client, RedisLog(client, redis_url), RedisBus(client), clock, recognizer_factory=None,
                    translator=None, name="w1", park_after_ms=60_000)
    web_client = aioredis.Redis.from_url(redis_url)
    web = RemoteRooms(web_client, RedisBus(web_client), RedisLog(web_client, redis_url), Store.open(Path(":memory:")),
                      clock, "web-1")
    try:
        await web.start()
        await worker.tick()
        room = web.get("hall")
        typed = await room.perform(protocol.CaptionText("Welcome to the hall", None))
        assert typed is not None
        await room.perform(protocol.Control("end"))
        now[0] += 59_000
        await worker.tick()  # ended, but not idle long enough
        assert "hall" in worker.hosts and not await client.exists(keys.parked)
        now[0] += 2_000
        await worker.tick()
        await asyncio.gather(*worker.parking)
        assert worker.hosts == {} and await client.exists(keys.parked) and not await client.exists(keys.lease)
        await worker.tick()  # a parked room is nobody's to take
        assert worker.hosts == {}

        fixing = asyncio.create_task(room.fix(typed.id, "Welcome to the great hall", lang=None, author="chair"))
        async with asyncio.timeout(10):
            while not fixing.done():
                await worker.tick()
                await asyncio.sleep(0.05)
        fixed = fixing.result()
        assert (fixed.text, fixed.revision) == ("Welcome to the great hall", 1)
        assert [c.text for c in await web.versions("hall", typed.id)] == ["Welcome to the great hall"]
        host = worker.hosts["hall"]
        assert host.runtime is not None and host.runtime.state == "ended"  # taken again, still ended
        assert not await client.exists(keys.parked)
        now[0] += 61_000
        await worker.tick()  # idle again: parked again
        await asyncio.gather(*worker.parking)
        assert worker.hosts == {} and await client.exists(keys.parked)
    finally:
        await worker.close()
        await web.close()
        await web_client.aclose()


async def test_a_room_is_parked_only_when_nothing_came_after_what_its_owner_read(client: aioredis.Redis) -> None:
    keys = RoomKeys("hall")
    park = client.register_script(scripts.PARK)
    read_cmd = text(await client.xadd(keys.commands, {"a": "1"}))
    read_audio = text(await client.xadd(keys.audio, {"p": ""}))
    args = [keys.lease, keys.parked, keys.commands, keys.audio]
    await client.set(keys.lease, "someone else")
    assert await park(keys=args, args=["me", read_cmd, read_audio]) == -1  # not ours: left alone
    assert await client.get(keys.lease) == b"someone else" and not await client.exists(keys.parked)
    for stream in (keys.commands, keys.audio):  # a command or audio after what was read: released, not parked
        await client.set(keys.lease, "me")
        newer = text(await client.xadd(stream, {"a": "2"}))
        assert await park(keys=args, args=["me", read_cmd, read_audio]) == 0
        assert not await client.exists(keys.lease) and not await client.exists(keys.parked)
        read_cmd, read_audio = (newer, read_audio) if stream == keys.commands else (read_cmd, newer)
    await client.set(keys.lease, "me")
    assert await park(keys=args, args=["me", read_cmd, read_audio]) == 1
    assert not await client.exists(keys.lease) and await client.exists(keys.parked)
    # audio for a parked room (a new recording) unparks it, as a command does (tested above)
    await client.hset(keys.capture, "s1", json.dumps({"out": 0}))
    assert await client.eval(scripts.CAPTURE_APPEND, 3, keys.capture, keys.audio, keys.parked, "s1", 0,
                             json.dumps({"out": 160}), 1000, "p", "") == 1
    assert not await client.exists(keys.parked)


class Targets:
    """A translator that offers what it is told (the heartbeat reads only ``available_targets``)."""

    def __init__(self, *targets: str) -> None:
        self.targets = targets

    def available_targets(self, source_lang: str) -> tuple[str, ...]:
        return self.targets if source_lang == "en" else ()


async def test_a_web_node_offers_the_translations_every_live_worker_has(client: aioredis.Redis,
                                                                        redis_url: str) -> None:
    now = [SYSTEM_CLOCK.now_ms()]
    clock = Clock(lambda: now[0])
    workers = [Worker(client, RedisLog(client, redis_url), RedisBus(client), clock, recognizer_factory=None,
                      translator=translator, name=name)  # type: ignore[arg-type]
               for name, translator in (("w1", Targets("de", "fr")), ("w2", Targets("fr")), ("w3", None))]
    web = RemoteRooms(client, RedisBus(client), RedisLog(client, redis_url), Store.open(Path(":memory:")), clock,
                      "web-1")
    try:
        await web.refresh()
        assert web.targets("en") == ()  # no worker: nothing can be promised
        for worker in workers[:2]:
            await worker.tick()
        await web.refresh()
        assert (web.targets("en"), web.targets("auto"), web.targets("zh")) == (("fr",), ("fr",), ())
        await workers[2].tick()  # a worker that translates nothing: a room may go to it
        await web.refresh()
        assert web.targets("en") == ()
        now[0] += 6_000  # only the first keeps beating: the others are gone
        await workers[0].tick()
        await web.refresh()
        assert web.targets("en") == ("de", "fr")
        room = await web.create(Session(id="new", title="New", source_lang="en", created_at_ms=now[0],
                                        languages=("fr",)), key=None)
        assert room.languages() == ("en", "de", "fr")  # before a worker serves it, as one server offers
        room.check_language("de")  # a reader may open it at once
    finally:
        for worker in workers:
            await worker.close()
        await web.close()


async def test_a_web_node_tells_a_language_s_readers_when_it_gets_no_text_in_progress(client: aioredis.Redis,
                                                                                      redis_url: str) -> None:
    from tests.test_pages_delegate import PrefixTranslator  # instant "[fr] text" translations

    await client.hset(ROOMS, "hall", session_json(SESSION))
    await client.sadd(OPEN, "hall")
    worker = Worker(client, RedisLog(client, redis_url), RedisBus(client), SYSTEM_CLOCK, recognizer_factory=None,
                    translator=PrefixTranslator(("de", "es", "fr", "ja", "ru")), name="w1")
    web_client = aioredis.Redis.from_url(redis_url)
    web = RemoteRooms(web_client, RedisBus(web_client), RedisLog(web_client, redis_url), Store.open(Path(":memory:")),
                      SYSTEM_CLOCK, "web-1")
    try:
        await web.start()
        room = web.get("hall")
        # Readers before the worker takes the room (as after a takeover): the four languages with the most
        # readers get partials, whatever order the counts come in (the worker adds the most read first).
        for lang, n in (("de", 1), ("es", 2), ("fr", 2), ("ja", 2), ("ru", 2)):
            for _ in range(n):
                room.reader_joined(lang)
        async with asyncio.timeout(10):
            while sum(int(n) for n in (await client.hgetall(RoomKeys("hall").readers)).values()) < 9:
                await asyncio.sleep(0.05)
        await worker.tick()
        async with asyncio.timeout(10):  # the worker sums the web nodes' counts every second
            while room.status("de").partials is not False:
                await asyncio.sleep(0.05)
        assert [room.status(lang).partials for lang in ("en", "es", "fr", "ja", "ru")] == [None, True, True, True, True]
    finally:
        await worker.close()
        await web.close()
        await web_client.aclose()


async def test_a_private_room_s_key_read_before_its_room_opened_is_taken_with_the_room(client: aioredis.Redis,
                                                                                        redis_url: str) -> None:
    mirror = Store.open(Path(":memory:"))
    web = RemoteRooms(client, RedisBus(client), RedisLog(client, redis_url), mirror, SYSTEM_CLOCK, "web-2")
    private = Session(id="twin", title="Twin", source_lang="en", created_at_ms=1, public=False)
    digest = auth.hash_session_key("first-node-key-1")
    try:
        # Another node creates the room as RemoteRooms.create does: record, key, then the open set;
        # this node looks at Redis between the key and the open set.
        assert await client.hsetnx(ROOMS, "twin", session_json(private))
        await client.hset(SESSION_KEYS, "twin", digest)
        await web.refresh()
        assert web.find("twin") is None and mirror.session_key_hash("twin") is None
        await client.sadd(OPEN, "twin")
        await web.refresh()
        assert web.find("twin") is not None
        assert mirror.session_key_hash("twin") == digest  # before: never, so the room's key was refused here
    finally:
        await web.close()


async def test_the_chair_s_end_read_with_the_audio_before_it_ends_that_audio_s_stream(client: aioredis.Redis,
                                                                                      redis_url: str) -> None:
    """A worker reads commands and audio from two streams: an End and the audio a station sent before it
    arrive in one read. The audio is heard first, the End then ends it; a stream begun before the End stays
    closed however late its frames come, and a new recording after the End goes on."""
    keys = RoomKeys("hall")
    await client.hset(ROOMS, "hall", session_json(SESSION))
    await client.sadd(OPEN, "hall")
    worker = Worker(client, RedisLog(client, redis_url), RedisBus(client), SYSTEM_CLOCK,
                    recognizer_factory=silent_factory, translator=None, name="w1")
    bus = RedisBus(client)
    web = RemoteRooms(client, bus, RedisLog(client, redis_url), Store.open(Path(":memory:")), SYSTEM_CLOCK, "web-1")

    async def send(stream: str, offset: int, at_ms: int, event: str = "", pcm: bytes = b"") -> str:
        return text(await client.xadd(keys.audio, entry_fields(stream, offset, at_ms, event, pcm)))  # type: ignore[arg-type]

    async def heard(entry_id: str) -> SessionRuntime:
        host = worker.hosts["hall"]
        async with asyncio.timeout(10):
            while host.read_to[keys.audio] != entry_id:
                await asyncio.sleep(0.02)
        assert host.runtime is not None
        return host.runtime

    try:
        await web.start()
        began = SYSTEM_CLOCK.now_ms() - 200
        await send("desk-1", 0, began, "start")
        await send("desk-1", 0, began + 100, pcm=b"\x01\x00" * 1600)
        ending = asyncio.create_task(web.get("hall").perform(protocol.Control("end")))
        async with asyncio.timeout(10):
            while not await client.xlen(keys.commands):
                await asyncio.sleep(0.01)
        await worker.tick()  # takes the room: its first read holds the audio and the End
        async with asyncio.timeout(15):
            await ending
        late = await send("desk-1", 1600, SYSTEM_CLOCK.now_ms() + 10, pcm=b"\x01\x00" * 1600)  # in flight
        runtime = await heard(late)
        assert (runtime.state, runtime.feed) == ("ended", None)
        ended_at = runtime.session.ended_at_ms
        assert ended_at is not None and ended_at >= began + 100
        assert runtime.session.started_at_ms is not None  # the audio before the End was heard
        fresh = SYSTEM_CLOCK.now_ms() + 20
        await send("desk-2", 0, fresh, "start")
        runtime = await heard(await send("desk-2", 0, fresh + 10, pcm=b"\x01\x00" * 1600))
        assert runtime.session.ended_at_ms is None and runtime.state == "live"  # a new recording goes on
        assert runtime.feed is not None
    finally:
        await worker.close()
        await web.close()
        await bus.close()


async def test_a_redis_loop_cancelled_as_its_reply_arrives_stops(redis_url: str) -> None:
    """redis-py sends through ``asyncio.wait_for`` (a socket timeout is set), which on Python 3.11 loses a
    cancellation landing as the send completes: the loop went on, and a worker dropping a room hung."""
    r = aioredis.Redis.from_url(redis_url, socket_timeout=5)
    reads: list[object] = []

    async def tail() -> None:
        while True:
            reads.append(await r.xread({"tail": "$"}, count=10, block=1000))

    try:
        for _ in range(5):
            task = asyncio.create_task(tail())
            await asyncio.sleep(0.2)
            await r.xadd("tail", {"x": 1})  # its reply wakes the loop, which sends the next read at once
            async with asyncio.timeout(10):
                await cancel_and_wait(task)
            assert task.cancelled()
    finally:
        await r.aclose()


async def test_a_command_whose_published_reply_was_missed_is_answered_once_from_the_kept_one(
        client: aioredis.Redis, redis_url: str) -> None:
    """A web node whose reply subscription is down (Redis restarted under it) misses the published answer;
    it used to answer 503 for a caption the worker had applied, and the chair's resend applied it twice."""
    await client.hset(ROOMS, "hall", session_json(SESSION))
    await client.sadd(OPEN, "hall")
    worker = Worker(client, RedisLog(client, redis_url), RedisBus(client), SYSTEM_CLOCK, recognizer_factory=None,
                    translator=None, name="w1")
    bus = RedisBus(client)
    web = RemoteRooms(client, bus, RedisLog(client, redis_url), Store.open(Path(":memory:")), SYSTEM_CLOCK, "web-1")
    try:
        await web.refresh()  # the rooms, but no reply subscription: every published answer is missed
        await worker.tick()
        async with asyncio.timeout(10):
            typed = await web.get("hall").perform(protocol.CaptionText("Said once", None))
        assert typed is not None and typed.text == "Said once"
        assert [c.text for c in await RedisLog(client, redis_url).captions_since("hall", "en", 0, 10)] == ["Said once"]
    finally:
        await worker.close()
        await web.close()
        await bus.close()


def test_commands_and_audio_are_taken_in_the_order_redis_took_them_up_to_a_full_stream_s_end() -> None:
    cmd, audio = b"as:r:{hall}:cmd", b"as:r:{hall}:audio"
    nothing: dict[bytes, bytes] = {}
    replies = [(cmd, [(b"105-0", nothing), (b"300-0", nothing)]),
               (audio, [(b"100-0", nothing), (b"105-0", nothing), (b"200-0", nothing)])]  # audio filled its count of 3
    order = [(name, text(entry_id)) for name, entry_id, _ in in_order(replies, 3)]
    assert order == [("as:r:{hall}:audio", "100-0"), ("as:r:{hall}:audio", "105-0"),  # an id's tie: audio first
                     ("as:r:{hall}:cmd", "105-0"), ("as:r:{hall}:audio", "200-0")]  # the pause waits: more audio
    assert [text(e) for _, e, _ in in_order(replies, 4)][-1] == "300-0"  # nothing more to come: it is taken
