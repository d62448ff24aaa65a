"""The application's shared resources, each under its own typed ``web.AppKey``.

Set by ``make_app``'s cleanup context before the first request; handlers read
them as ``request.app[STORE]`` and so on.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

from ..clock import Clock
from ..config import Settings
from ..hub import CaptionBus
from ..store import Store
from ..store.log import CaptionLog
from .auth import IssuedToken
from .exports import ExportWorker
from .jobs import ExportJobs
from .limits import AuthThrottle, ConnectionLimiter
from .questions import QuestionDesks
from .rooms import RoomRegistry
from .talks import TalkRooms

if TYPE_CHECKING:
    from .speakers import SpeakerDesk
from .translation import Translating

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
# Captions and sessions as handlers read them (the store itself, or Redis in a cluster).
LOG = web.AppKey("log", CaptionLog)
BUS = web.AppKey("bus", CaptionBus)
SESSIONS = web.AppKey("sessions", RoomRegistry)
CONNECTIONS = web.AppKey("connections", ConnectionLimiter)
THROTTLE = web.AppKey("throttle", AuthThrottle)  # wrong keys and tokens per address
EXPORTS = web.AppKey("exports", ExportWorker)
QUESTIONS = web.AppKey("questions", QuestionDesks)
ISSUED_TOKENS = web.AppKey("issued_tokens", list[IssuedToken])
# The translation service the sessions use; exports translate languages nobody read live with it.
TRANSLATOR: web.AppKey[Translating] = web.AppKey("translator")
EXPORT_JOBS = web.AppKey("export_jobs", ExportJobs)
# Who is speaking in each session (one server).
SPEAKERS: web.AppKey["SpeakerDesk"] = web.AppKey("speakers")
# The programme's rooms and the talk on in each (one server; a cluster's web node has none).
TALKS = web.AppKey("talks", TalkRooms)
# Open WebSockets, closed with GOING_AWAY on shutdown.
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])
