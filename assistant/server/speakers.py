"""Who is speaking: the current speaker of each session, switched by the chair, kept with audio time.

    GET  /api/sessions/{session}/speaker   the current speaker (readers of the session)
    POST /api/sessions/{session}/speaker   (chair) {"speaker": "Ada Lovelace"}; "" names nobody

A change is stored as a :class:`~assistant.captions.SpeakerTurn` at the session's
audio time now (the newest sample heard, or the end of the last caption when no
audio runs), so every export writes speaker turns at the right captions; readers
get a ``speaker`` frame on the caption socket (after ``hello``, and at each change).
A talk of the programme starts with its first speaker.
"""

from __future__ import annotations

from typing import Callable

from aiohttp import web

from .. import protocol, validate
from ..captions import SpeakerTurn
from ..hub import CaptionBus, Topic
from ..programme import Talk
from ..session.effects import CHAIR_TOPIC
from ..store import Store
from . import access
from .boundary import json_body
from .keys import CLOCK, SESSIONS, SPEAKERS
from .programme import require_one_server
from .runtime import SessionRuntime

MAX_SPEAKER_CHARS = 100


class SpeakerDesk:
    """The current speaker per session (from the store on first use), and its frames (``app[SPEAKERS]``)."""

    def __init__(self, store: Store, bus: CaptionBus) -> None:
        self._store = store
        self._bus = bus
        self._current: dict[str, SpeakerTurn | None] = {}

    def current(self, session_id: str) -> SpeakerTurn | None:
        if session_id not in self._current:
            turns = self._store.speakers.load(session_id)
            self._current[session_id] = turns[-1] if turns else None
        return self._current[session_id]

    def frame(self, session_id: str) -> protocol.Frame | None:
        """The ``speaker`` frame of the session now (None: nobody was ever named)."""
        turn = self.current(session_id)
        if turn is None:
            return None
        return protocol.info("speaker", {"speaker": turn.speaker or None, "audio_ms": turn.audio_ms})

    def switch(self, runtime: SessionRuntime, speaker: str, at_ms: int) -> SpeakerTurn:
        """``speaker`` speaks from the session's audio time now on; readers and the chair are told."""
        sid = runtime.session.id
        audio_ms = runtime.core.audio_position_ms if runtime.feed is not None else self._store.audio_end_ms(sid)
        turn = SpeakerTurn(sid, audio_ms, speaker)
        self._store.speakers.add(turn, at_ms)
        self._current[sid] = turn
        frame = self.frame(sid)
        assert frame is not None
        for lang in {*runtime.languages(), runtime.source_lang, CHAIR_TOPIC}:
            self._bus.publish(Topic(sid, lang), frame)
        return turn


def _runtime(request: web.Request) -> SessionRuntime:
    require_one_server(request, "naming who speaks")
    runtime = request.app[SESSIONS].get(request.match_info["session"])
    assert isinstance(runtime, SessionRuntime)  # one server: its rooms are runtimes
    return runtime


async def get_speaker(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    access.require_reader(request, runtime.session)
    turn = request.app[SPEAKERS].current(runtime.session.id)
    return web.json_response({"speaker": turn.speaker or None if turn else None,
                              "audio_ms": turn.audio_ms if turn else None})


async def post_speaker(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    access.require_chair(request, runtime.session.id)
    body = await json_body(request)
    name = body.get("speaker")
    if name != "":
        name = validate.text(name, '"speaker"', max_chars=MAX_SPEAKER_CHARS)
    assert isinstance(name, str)
    turn = request.app[SPEAKERS].switch(runtime, name, request.app[CLOCK].now_ms())
    return web.json_response({"speaker": turn.speaker or None, "audio_ms": turn.audio_ms})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{session}/speaker", get_speaker)
    app.router.add_post("/api/sessions/{session}/speaker", post_speaker)


def first_speaker(desk: SpeakerDesk) -> Callable[[SessionRuntime, Talk, int], None]:
    """What a talk starting does here: its first speaker speaks, unless the session named someone already."""

    def started(runtime: SessionRuntime, talk: Talk, at_ms: int) -> None:
        if talk.speakers and desk.current(runtime.session.id) is None:
            desk.switch(runtime, talk.speakers[0], at_ms)

    return started
