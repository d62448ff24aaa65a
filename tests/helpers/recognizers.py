"""Recognisers for server tests that need a session to hear audio without a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable, Literal

if TYPE_CHECKING:
    from assistant.server.runtime import SessionRuntime


class SilentRecognizer:
    """Hears the audio and says nothing: enough for a session to go live."""

    async def run(self, audio: AsyncIterator[object], on_event: Callable[[object], None]) -> None:
        async for _ in audio:
            pass


def silent_factory(language: str | None, glossary: tuple[str, ...],
                   task: Literal["transcribe", "translate"] = "transcribe") -> SilentRecognizer:
    return SilentRecognizer()


def go_live(runtime: "SessionRuntime", lag_ms: int | None = None) -> None:
    """Start a feed and push 100 ms of silence (the session is live); report ``lag_ms`` of recognition lag."""
    import numpy as np

    from assistant.asr.types import LagReport

    runtime.open_audio()
    runtime.push_audio(np.zeros(1600, dtype=np.float32))
    if lag_ms is not None:
        runtime.recognized(LagReport(lag_ms))
