"""One room a worker owns: its session runtime, fed from Redis, writing to Redis.

:meth:`RoomHost.start` loads the room from the log (seqs continue where the
last owner stopped), builds a :class:`~assistant.server.runtime.SessionRuntime`
over a :class:`~.roomstore.RoomStore`, and runs three loops: one ``XREAD``
over the room's command and audio streams (chair actions are applied and
answered in stream order; audio goes to recognition, a backlog of it at a
few times real speed so that none is skipped), the reader counts of
every web node summed into the session core each second, and the room's
recording if its source is a file. The room's state, which web nodes show
readers, is written whenever the runtime publishes a status or console frame;
a room its last owner left paused starts paused (until the chair resumes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterable

import redis.asyncio as aioredis

from ..captions import Session
from ..clock import Clock
from ..errors import AssistantError
from ..pcm import SAMPLE_RATE
from ..hub import Subscription, Topic
from ..protocol import Frame
from ..server.runtime import RecognizerFactory, SessionRuntime
from ..server.translation import Translating
from ..session.core import Correct
from ..tasks import cancel_and_wait
from . import commands
from .audio import AudioIn, parse_entry, play_file
from .bus import LIVE_MAXLEN, STATE_TOPIC, RedisBus
from .keys import KEPT_REPLY, KEPT_REPLY_MS, NODES, REPLIES, UNREACHABLE, RoomKeys, dumps, entry_clock, text
from .redislog import RedisLog
from .roomstore import RoomStore
from .writer import FencedWriter, OnRoundTrip

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1000
READ_COUNT = 50  # entries per stream and read: 5 s of audio
# Audio that arrived this long ago (a takeover's backlog, the recording played while nobody owned the room)
# is fed to recognition at CATCH_UP_SPEED × real time, not all at once: a recogniser handed its whole
# backlog in one go would skip most of it as audio it cannot keep up with.
CATCH_UP_AFTER_MS = 1_500
CATCH_UP_SPEED = 3.0
READERS_EVERY_S = 1.0  # how often web nodes' reader counts are summed into the session
STATE_FRAMES = ("status", "info", "readers")  # frames after which the room's state is written again


Entry = tuple[str, bytes, dict[bytes, bytes]]  # stream, entry id, fields


def in_order(replies: Iterable[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], count: int) -> list[Entry]:
    """One ``XREAD`` of the commands and the audio, in the order Redis took them (an entry id is its clock).

    A chair's End or pause acts on the audio sent before it, as on one server: the audio before it is
    heard first. A stream that filled its ``count`` may hold more before a later entry of the other:
    what comes after its last entry waits for the next read.
    """
    merged: list[tuple[tuple[int, int], str, bytes, dict[bytes, bytes]]] = []
    until: tuple[int, int] | None = None
    for key, entries in replies:
        name = text(key)
        merged += [(entry_clock(entry_id), name, entry_id, fields) for entry_id, fields in entries]
        if entries and len(entries) >= count:
            last = entry_clock(entries[-1][0])
            until = last if until is None else min(until, last)
    merged.sort(key=lambda e: (e[0], e[1]))
    return [(name, entry_id, fields) for at, name, entry_id, fields in merged if until is None or at <= until]


class _StateBus:
    """The runtime's bus: frames go to the room's writer; a status or console frame also updates the state.

    The state is written *before* the first such frame of a burst (a web node
    showing a new reader the state then never shows an older one than the frames
    after it) and once more after the burst, if anything else changed.
    """

    def __init__(self, bus: RedisBus, writer: FencedWriter, keys: RoomKeys) -> None:
        self._bus = bus
        self._writer = writer
        self._keys = keys
        self.runtime: SessionRuntime | None = None
        self._written = b""
        self._fresh = False

    def publish(self, topic: Topic, frame: Frame) -> None:
        if frame.kind in STATE_FRAMES and not self._fresh:
            self.write_state()
            self._fresh = True
            asyncio.get_running_loop().call_soon(self._settle)
        self._bus.publish(topic, frame)

    def _settle(self) -> None:
        self._fresh = False
        self.write_state()

    def write_state(self) -> None:
        runtime = self.runtime
        if runtime is None:
            return
        langs = runtime.languages()
        state = dumps({"session": asdict(runtime.session), "state": runtime.state,
                       "languages": list(langs), "snapshot": runtime.snapshot(),
                       "statuses": {lang: _status(runtime, lang) for lang in langs}})
        if state == self._written:
            return
        self._written = state
        self._writer.submit("SET", self._keys.state, state)
        self._writer.submit("XADD", self._keys.live, "MAXLEN", "~", LIVE_MAXLEN, "*", "t", STATE_TOPIC,
                            "k", "info", "q", "", "d", state)

    def subscribe(self, topic: Topic, capacity: int) -> Subscription:
        return self._bus.subscribe(topic, capacity)

    def unsubscribe(self, sub: Subscription) -> None:
        self._bus.unsubscribe(sub)

    async def close(self) -> None:
        return None


def _status(runtime: SessionRuntime, lang: str) -> dict[str, Any]:
    s = runtime.status(lang)
    return {"state": s.state, "lag_ms": s.lag_ms, "started_at_ms": s.started_at_ms,
            "translation_ms": s.translation_ms, "partials": s.partials}


class RoomHost:
    """A room owned by this worker; :meth:`start` it, :meth:`stop` it (or it stops when its lease is lost)."""

    def __init__(self, session: Session, *, client: aioredis.Redis, bus: RedisBus, clock: Clock, token: str,
                 recognizer_factory: RecognizerFactory | None, translator: Translating | None,
                 source: str | None, on_lost: Callable[[str], None],
                 on_round_trip: OnRoundTrip | None = None) -> None:
        self.session = session
        self.keys = RoomKeys(session.id)
        self._redis = client
        self._bus = bus
        self._clock = clock
        self._factory = recognizer_factory
        self._translator = translator
        self._source = source
        self._on_lost = on_lost
        self.writer = FencedWriter(client, self.keys.lease, token, on_lost=lambda: on_lost(session.id),
                                   on_round_trip=on_round_trip)
        self.runtime: SessionRuntime | None = None
        self.audio: AudioIn | None = None
        self.read_to = {self.keys.commands: "0-0", self.keys.audio: "0-0"}  # the last entry read of each stream
        self.active_ms = clock.now_ms()  # when the room last heard a command or audio
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, log_: RedisLog) -> None:
        """Load the room from the log and start serving it."""
        latest, end, recent = await RoomStore.load(log_, self.session)
        meta: Any = await self._redis.hgetall(self.keys.meta)
        previous: Any = await self._redis.get(self.keys.state)  # what the last owner showed
        store = RoomStore(self.session, self.writer, latest=latest, audio_end_ms=end, recent=recent)
        self._bus.attach(self.session.id, self.writer)
        state_bus = _StateBus(self._bus, self.writer, self.keys)
        checkpoint = json.loads(meta[b"audio"]) if b"audio" in meta else None
        holder: list[AudioIn] = []
        factory = self._factory
        if factory is not None:
            inner = factory
            factory = lambda language, glossary, task="transcribe": holder[0].observe(inner)(  # noqa: E731
                language, glossary, task=task)
        self.runtime = runtime = SessionRuntime(self.session, store=store, bus=state_bus, clock=self._clock,
                                                recognizer_factory=factory, translator=self._translator)
        if previous is not None and json.loads(previous).get("state") == "paused":
            runtime.restore_paused()  # the chair paused it: a takeover does not resume it
        self.audio = AudioIn(runtime, self.writer, self.keys, checkpoint, ended_at_ms=self.session.ended_at_ms)
        holder.append(self.audio)
        state_bus.runtime = runtime
        state_bus.write_state()
        self.read_to = {self.keys.commands: text(meta.get(b"cmd", b"0-0")), self.keys.audio: self.audio.start_id()}
        self._tasks = [asyncio.create_task(self._read(), name=f"room {self.session.id}"),
                       asyncio.create_task(self._readers(), name=f"readers {self.session.id}")]
        if self._source:
            capture: Any = await self._redis.hget(self.keys.capture, "file")
            state = json.loads(capture) if capture else None
            self._tasks.append(asyncio.create_task(
                play_file(Path(self._source), self.writer, self.keys, state, self._clock), name="recording"))
        log.info("room %s: serving (seqs %s)", self.session.id, latest or "none yet")

    # -- commands and audio ----------------------------------------------------
    async def _read(self) -> None:
        positions = self.read_to
        while True:
            try:
                replies: Any = await self._redis.xread(positions, count=READ_COUNT, block=READ_BLOCK_MS)  # type: ignore[arg-type]
            except UNREACHABLE as exc:
                log.warning("room %s: Redis unreachable (%s); retrying", self.session.id, exc)
                await asyncio.sleep(0.5)
                continue
            if replies:
                self.active_ms = self._clock.now_ms()
            for name, entry_id, fields in in_order(replies or (), READ_COUNT):
                if name == self.keys.commands:
                    self._command(entry_id, fields)
                else:
                    assert self.audio is not None
                    entry = parse_entry(entry_id, fields)
                    self.audio.receive(entry)
                    if entry.samples and self._clock.now_ms() - entry.at_ms > CATCH_UP_AFTER_MS:
                        await asyncio.sleep(entry.samples / SAMPLE_RATE / CATCH_UP_SPEED)
                positions[name] = text(entry_id)

    def _command(self, entry_id: bytes, f: dict[bytes, bytes]) -> None:
        runtime = self.runtime
        assert runtime is not None
        rid, node = text(f[b"rid"]), text(f[b"reply"])
        if self._clock.now_ms() <= int(f[b"deadline"]):
            action = commands.decode_action(f[b"a"])
            if isinstance(action, Correct) and action.versions:
                mine = runtime.store.translations_of(self.session.id, action.versions[0].id)
                if mine:
                    action = Correct(tuple(mine), action.lang, action.text, action.author)
            try:
                caption = runtime.act(action)
                reply = commands.reply_ok(rid, caption, runtime.snapshot())
            except AssistantError as exc:
                reply = commands.reply_error(rid, exc)
            # After the action's own writes: the chair hears back once Redis has its caption. The result is
            # also kept: a web node that missed the message (its subscription was down) finds it there,
            # rather than answering 503 for an action that was applied (sent again, it would be applied twice).
            self.writer.submit("SET", KEPT_REPLY + rid, reply, "PX", KEPT_REPLY_MS)
            self.writer.submit("PUBLISH", REPLIES + node, reply)
        self.writer.submit("HSET", self.keys.meta, "cmd", entry_id)

    # -- readers ---------------------------------------------------------------
    async def _readers(self) -> None:
        while True:
            await asyncio.sleep(READERS_EVERY_S)
            try:
                await self.sum_readers()
            except UNREACHABLE as exc:
                log.warning("room %s: cannot read reader counts (%s)", self.session.id, exc)

    async def sum_readers(self) -> None:
        """Bring the core's reader counts (and room screens among them) to the sums over live web nodes
        (dead nodes' counts are dropped)."""
        runtime = self.runtime
        assert runtime is not None
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.readers)
            pipe.hgetall(self.keys.screens)
            pipe.hgetall(NODES)
            counts, screen_counts, nodes = await pipe.execute()
        now = self._clock.now_ms()
        alive = {text(n) for n, expires in nodes.items() if int(expires) > now}
        want: Counter[str] = Counter()
        screens: Counter[str] = Counter()
        for key, raw, into in ((self.keys.readers, counts, want), (self.keys.screens, screen_counts, screens)):
            dead = []
            for field, n in raw.items():
                node, lang = text(field).rsplit("|", 1)
                if node in alive:
                    into[lang] += int(n)
                else:
                    dead.append(field)
            if dead:
                await self._redis.hdel(key, *dead)
        core = runtime.core
        langs = set(want) | set(core.readers)
        for lang in langs:  # a screen is a reader too: screens first, then the other readers
            for _ in range(core.screens[lang] - screens[lang]):
                runtime.reader_left(lang, screen=True)
            for _ in range(core.readers[lang] - want[lang]):
                runtime.reader_left(lang)
        # Most read first: a room just taken over gives text in progress to the languages with the most
        # readers, as a core that saw them come one by one does (a language that has it keeps it).
        for lang in sorted(langs, key=lambda lang: (-screens[lang], -want[lang], lang)):
            for _ in range(screens[lang] - core.screens[lang]):
                runtime.reader_joined(lang, screen=True)
            for _ in range(want[lang] - core.readers[lang]):
                runtime.reader_joined(lang)

    async def stop(self) -> None:
        """Stop serving: the loops, recognition and translation; queued writes are sent if the lease holds."""
        await cancel_and_wait(*self._tasks)
        if self.runtime is not None:
            await self.runtime.close()
        if not self.writer.lost:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):  # (not wait_for: on 3.11 it can lose a cancellation of stop())
                    await self.writer.drain()
        await self.writer.close()
        self._bus.detach(self.session.id)
