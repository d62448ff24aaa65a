"""One exception tree for the whole package.

    AssistantError                    every error this package raises on purpose
    ├── ConfigError                   a config key or value is wrong (names the key)
    ├── ModelError                    a Whisper model is missing, corrupt or unknown
    ├── AudioFormatError              audio that cannot be decoded or converted
    ├── AudioSourceError              a microphone or file source cannot be opened
    ├── LanguageError                 a language nobody can serve (lists those that can)
    ├── TranslationPackageError       an Argos package is missing, corrupt or unreachable
    ├── ProtocolError                 a malformed client message (code + message)
    ├── AuthError                     a missing or wrong token
    ├── NotFoundError                 an unknown session or caption
    ├── UnavailableError              a room's worker cannot be reached now (a takeover is under way)
    ├── LimitError                    too much at once: rate_limited or busy (says when to retry)
    └── StoreError                    the caption database cannot be opened or migrated

The core raises these narrow errors; only the boundaries (CLI, HTTP and
WebSocket handlers) turn them into exit codes, HTTP statuses, close codes or
log lines. Every message says what to do next.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every deliberate error; ``code`` is the stable machine-readable name."""

    code = "error"


class ConfigError(AssistantError):
    code = "bad_config"


class ModelError(AssistantError):
    code = "model_unavailable"


class AudioFormatError(AssistantError):
    code = "bad_audio"


class AudioSourceError(AssistantError):
    code = "audio_source"


class LanguageError(AssistantError):
    code = "unknown_language"

    def __init__(self, message: str, available: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.available = available


class TranslationPackageError(AssistantError):
    code = "translation_package"


class ProtocolError(AssistantError):
    code = "bad_message"

    def __init__(self, message: str, code: str = "bad_message") -> None:
        super().__init__(message)
        self.code = code


class AuthError(AssistantError):
    code = "unauthorized"


class ForbiddenError(AuthError):
    """A valid token of a role that may not do this (HTTP 403, close code 4403)."""

    code = "forbidden"


class NotFoundError(AssistantError):
    code = "not_found"


class UnavailableError(AssistantError):
    """Try again shortly (HTTP 503): e.g. no worker holds the room while another takes it over."""

    code = "busy"


class LimitError(AssistantError):
    """A client over a limit (``rate_limited``: HTTP 429) or a server full (``busy``: 503).

    ``retry_after_s`` becomes the ``Retry-After`` header.
    """

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str = "rate_limited") -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


class StoreError(AssistantError):
    code = "store"
