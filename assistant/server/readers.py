"""``GET /ws/captions/{session}?lang=L&since=N[&screen=1]``: the delegates' caption stream (``screen=1``: a room
screen's, which ranks its language first for text in progress).

One writer task per reader drains its bounded inbox; publishing never waits for
it. Resume is exact: the writer first replays from the store every caption with
``seq > since``, then forwards live frames, skipping any it already sent and
going back to the store whenever it sees a gap or its inbox overflowed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from .. import protocol
from ..captions import Caption, Correction
from ..errors import LanguageError, ProtocolError
from ..hub import Subscription, Topic
from ..store.log import CaptionLog
from ..tasks import cancel_and_wait
from .boundary import ws_close_with_error, ws_send_error
from .keys import BUS, CLOCK, LOG, QUESTIONS, SETTINGS, SPEAKERS
from .limits import MessageBudget, admit
from .rooms import Room
from .sockets import limited, open_socket

log = logging.getLogger(__name__)

REPLAY_BATCH = 500  # captions read from the store per round trip while replaying
CORRECTION_WINDOW = 200  # recent captions whose corrections are re-sent on resume
MAX_SINCE = 2**53  # the largest seq a JavaScript client can hold exactly
_closing: set[asyncio.Future[bool]] = set()  # sockets being closed after their writer failed


async def _captions_ws(runtime: Room, request: web.Request) -> web.StreamResponse:
    ws = await open_socket(request)
    lang = request.query.get("lang") or runtime.source_lang
    raw = request.query.get("since", "0")
    try:
        if not (raw.isascii() and raw.isdigit()):  # int() would also take "+5", "1_0", " 5" and "١٢"
            raise ValueError
        since = int(raw)
        if not 0 <= since <= MAX_SINCE:
            raise ValueError
    except ValueError:
        await ws_close_with_error(ws, ProtocolError("since must be a whole number >= 0 (the last seq you saw)",
                                                    code="bad_since"))
        return ws
    screen = request.query.get("screen", "0")
    if screen not in ("0", "1"):
        await ws_close_with_error(ws, ProtocolError("screen must be 1 (this socket is a room screen) or 0",
                                                    code="bad_screen"))
        return ws
    try:
        runtime.check_language(lang)
    except LanguageError as exc:
        await ws_close_with_error(ws, exc, languages=list(exc.available))
        return ws
    await _serve_reader(request.app, runtime, ws, lang, since, screen == "1")
    return ws


captions_ws = limited(_captions_ws)


async def _serve_reader(app: web.Application, runtime: Room, ws: web.WebSocketResponse, lang: str,
                        since: int, screen: bool) -> None:
    bus = app[BUS]
    sub = bus.subscribe(Topic(runtime.session.id, lang), app[SETTINGS].limits.client_queue)
    runtime.reader_joined(lang, screen=screen)
    desks = app.get(QUESTIONS)
    desk = desks.get(runtime.session.id) if desks is not None else None
    speakers = app.get(SPEAKERS)
    sid = runtime.session.id
    writer = asyncio.create_task(stream_captions(
        runtime, ws, sub, lang, since, app[LOG],
        questions=(lambda always: desk.snapshot_frame(lang, always=always)) if desk is not None else None,
        speaker=(lambda: speakers.frame(sid)) if speakers is not None else None, floor=desks is not None))
    writer.add_done_callback(lambda task: _writer_stopped(task, ws))
    budget = MessageBudget.of(app[SETTINGS].limits)
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not await admit(ws, budget, app[CLOCK].now_ms()):
                continue
            if msg.type == WSMsgType.TEXT:
                try:
                    if not isinstance(protocol.parse_client_message(msg.data), protocol.Ping):
                        raise ProtocolError('readers send only {"type":"ping"}; a chair acts through '
                                            f"/ws/chair/{runtime.session.id} with a chair token")
                except ProtocolError as exc:
                    await ws_send_error(ws, exc)
            elif msg.type == WSMsgType.BINARY:
                await ws_send_error(ws, ProtocolError("readers send no binary frames"))
    finally:
        # Before any await: a handler cancelled while it cleans up (an aiohttp server with handler_cancellation,
        # as its test server, cancels it as the client goes) stops at the first one, and its reader stayed
        # counted for ever: its language translated for nobody, and ranked for text in progress.
        bus.unsubscribe(sub)
        runtime.reader_left(lang, screen=screen)
        await cancel_and_wait(writer)


def _writer_stopped(task: asyncio.Task[None], ws: web.WebSocketResponse) -> None:
    """A writer that failed (its store unreachable, say) closes the socket: the reader then reconnects and
    resumes with ``since``, here or on another node, instead of waiting on a socket nothing writes to."""
    if task.cancelled() or (exc := task.exception()) is None or ws.closed:
        return
    if not isinstance(exc, ConnectionError):  # not just the reader gone
        log.warning("reader stream stopped (%r); closing the socket so that the reader resumes", exc)
    closing = asyncio.ensure_future(ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"try again"))
    _closing.add(closing)
    closing.add_done_callback(_closing.discard)


async def stream_captions(runtime: Room, ws: web.WebSocketResponse, sub: Subscription,
                          lang: str, since: int, store: CaptionLog, *,
                          questions: Callable[[bool], protocol.Frame | None] | None = None,
                          speaker: Callable[[], protocol.Frame | None] | None = None,
                          floor: bool = True) -> None:
    """Write one reader's stream: hello, the captions after ``since``, then live frames from ``sub``.

    ``questions(always)`` gives the floor's ``questions`` snapshot: after hello when any
    question is visible (a client forgets its questions on hello), and after every resync
    (the frames a lagging reader lost may have changed or removed one). ``floor`` False: this
    server takes no questions (hello says so, and the pages offer none).
    """
    sid = runtime.session.id
    latest = await store.latest_seq(sid, lang)
    reset = since > latest  # the client saw captions this store does not have (it was reset): start over
    if reset:
        since = 0
    await ws.send_frame(protocol.hello(runtime.session, lang, runtime.languages(), latest, reset=reset,
                                       questions=floor).data, WSMsgType.TEXT)
    if questions is not None and (snapshot := questions(False)) is not None:
        await ws.send_frame(snapshot.data, WSMsgType.TEXT)
    if speaker is not None and (now_speaking := speaker()) is not None:
        await ws.send_frame(now_speaking.data, WSMsgType.TEXT)
    last = await _replay(runtime, store, ws, lang, since)
    if since > 0:
        await _send_corrections(ws, await store.corrected_before(sid, lang, since, CORRECTION_WINDOW))
    await ws.send_frame(protocol.status(runtime.status(lang)).data, WSMsgType.TEXT)
    drained_at_ms = runtime.clock.now_ms()
    while not ws.closed:
        frame = await sub.get()
        if frame is None:
            if sub.closed:
                return
            # Overflowed: this reader fell behind; catch up from the store instead. The dropped
            # inbox may have held corrections of lines it already has and a state change, so
            # those follow the captions.
            sub.resynced()
            shown = last
            last = await _replay(runtime, store, ws, lang, last)
            await _send_corrections(ws, await store.revised_since(sid, lang, shown, drained_at_ms))
            if questions is not None and (snapshot := questions(True)) is not None:
                await ws.send_frame(snapshot.data, WSMsgType.TEXT)
            if speaker is not None and (now_speaking := speaker()) is not None:
                await ws.send_frame(now_speaking.data, WSMsgType.TEXT)  # a change may have been dropped
            await ws.send_frame(protocol.status(runtime.status(lang)).data, WSMsgType.TEXT)
            drained_at_ms = runtime.clock.now_ms()
            continue
        drained_at_ms = runtime.clock.now_ms()
        if frame.kind == "caption" and frame.seq is not None:
            if frame.seq <= last:
                continue
            if frame.seq > last + 1:
                last = await _replay(runtime, store, ws, lang, last)
                continue
            last = frame.seq
        await ws.send_frame(frame.data, WSMsgType.TEXT)


async def _replay(runtime: Room, store: CaptionLog, ws: web.WebSocketResponse, lang: str, last: int) -> int:
    """Send every stored caption after ``last``; return the last seq sent."""
    while True:
        batch = await store.captions_since(runtime.session.id, lang, last, REPLAY_BATCH)
        for cap in batch:
            await ws.send_frame(runtime.frame_for(cap).data, WSMsgType.TEXT)
            last = cap.seq
        if len(batch) < REPLAY_BATCH:
            return last


async def _send_corrections(ws: web.WebSocketResponse, fixed: list[Caption]) -> None:
    for c in fixed:
        frame = protocol.correction(Correction(c.session, c.lang, c.seq, c.id, c.text, c.revision),
                                    source_text=c.source_text, fallback=c.fallback)
        await ws.send_frame(frame.data, WSMsgType.TEXT)

