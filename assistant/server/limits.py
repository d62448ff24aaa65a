"""Limits on what one client may take: sockets per address, and frames per socket.

:class:`MessageBudget` is a pure token bucket (time passed in); :func:`admit`
applies it to a socket. :class:`ConnectionLimiter` counts the sockets open per
client address (behind a trusted proxy, the address it forwards).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from ..config import LimitSettings, ServerSettings
from ..errors import ProtocolError
from .boundary import ws_close_with_error, ws_send_error


def client_address(request: web.BaseRequest, server: ServerSettings) -> str:
    """The client's address; behind a trusted proxy, the last address its X-Forwarded-For names."""
    remote = request.remote or "?"
    if remote in server.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return remote


class ConnectionLimiter:
    """Sockets open at once per client address, at most ``per_address``."""

    def __init__(self, server: ServerSettings, per_address: int) -> None:
        self._server = server
        self._per_address = per_address
        self._open: Counter[str] = Counter()

    def acquire(self, request: web.BaseRequest) -> str:
        """Count one more socket for the request's address (returned); ProtocolError past the limit."""
        peer = client_address(request, self._server)
        if self._open[peer] >= self._per_address:
            raise ProtocolError(f"too many connections from {peer}; close some tabs and retry",
                                code="too_many_connections")
        self._open[peer] += 1
        return peer

    def release(self, peer: str) -> None:
        self._open[peer] -= 1
        if self._open[peer] <= 0:
            del self._open[peer]


@dataclass
class MessageBudget:
    """A token bucket over one socket's client frames: ``rate_per_s`` on average, ``burst`` at once.

    Frames over budget are strikes; more than ``strikes_allowed`` of them before
    the bucket refills completely means the client will not slow down.
    Time is passed in (``now_ms``), so tests drive it with a manual clock.
    """

    rate_per_s: float
    burst: int
    strikes_allowed: int
    tokens: float = -1.0
    last_ms: int | None = None
    strikes: int = 0

    @classmethod
    def of(cls, limits: LimitSettings) -> "MessageBudget":
        return cls(limits.messages_per_s, limits.message_burst, limits.rate_strikes)

    def take(self, now_ms: int) -> bool:
        """Spend one frame; False (and a strike) when the client is over budget."""
        if self.last_ms is None:
            self.tokens = float(self.burst)
        else:
            elapsed_s = max(now_ms - self.last_ms, 0) / 1000
            self.tokens = min(float(self.burst), self.tokens + elapsed_s * self.rate_per_s)
        self.last_ms = now_ms
        if self.tokens >= self.burst:
            self.strikes = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.strikes > self.strikes_allowed


async def admit(ws: web.WebSocketResponse, budget: MessageBudget, now_ms: int) -> bool:
    """Call per client frame: True to handle it; False when dropped (error frame sent, or the socket closed)."""
    if budget.take(now_ms):
        return True
    exc = ProtocolError(f"too many messages: at most {budget.rate_per_s:g} a second "
                        f"(bursts of {budget.burst}); slow down", code="rate_limited")
    if budget.exhausted:
        await ws_close_with_error(ws, exc)
    else:
        await ws_send_error(ws, exc)
    return False
