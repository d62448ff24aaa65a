"""Recognisers for server tests that need a session to hear audio without a model."""

from __future__ import annotations

from typing import AsyncIterator, Callable, Literal


class SilentRecognizer:
    """Hears the audio and says nothing: enough for a session to go live."""

    async def run(self, audio: AsyncIterator[object], on_event: Callable[[object], None]) -> None:
        async for _ in audio:
            pass


def silent_factory(language: str | None, glossary: tuple[str, ...],
                   task: Literal["transcribe", "translate"] = "transcribe") -> SilentRecognizer:
    return SilentRecognizer()
