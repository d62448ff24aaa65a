"""Validators shared by every boundary: session ids, language codes, and text that people type.

Each takes the value and ``where`` (how the message names it: ``'"id"'``,
``"sessions[0].title"``, ``"--session"``), returns the clean value, and raises
``error`` otherwise: :class:`ProtocolError` (the default, for HTTP bodies,
query parameters and socket frames) or :class:`ConfigError` (the config file
and the command line), with a message that says what is allowed.

Text rule, the same everywhere: whitespace of any kind (tabs, newlines, U+2028)
inside a one-line field (a title, a caption, a glossary term) becomes a single
space; any other control character, and a lone UTF-16 surrogate (JSON
``"\\ud83d"`` without its pair decodes to one, and it can be neither stored nor
sent as UTF-8), is refused. Nothing is dropped silently.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ConfigError, ProtocolError

SESSION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
SESSION_KEY_RE = re.compile(r"^[!-~]{8,128}$")  # printable ASCII, no spaces: survives a URL and a QR code
AUTO = "auto"  # "detect the spoken language", accepted where a session's language is set
# The languages Whisper recognises (faster_whisper.tokenizer's list, private there): what a room may be spoken in.
SPOKEN_LANGUAGES = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de", "el", "en",
    "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht", "hu", "hy", "id", "is",
    "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn",
    "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk",
    "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz",
    "vi", "yi", "yo", "zh", "yue")

ErrorType = type[ProtocolError] | type[ConfigError]


def session_id(value: object, where: str, *, error: ErrorType = ProtocolError) -> str:
    """A session id: 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit."""
    if isinstance(value, str) and SESSION_ID_RE.match(value):
        return value
    raise _error(error, f"{where} must be a session id: 1-63 lower-case letters, digits, '-' or '_' "
                        f"(starting with a letter or digit), not {shown(value)}", "bad_message")


def language(value: object, where: str, *, allow_auto: bool = False, error: ErrorType = ProtocolError) -> str:
    """A language code like ``en``, ``pt-BR`` or ``zh-Hans``; also ``auto`` with ``allow_auto``."""
    if isinstance(value, str) and (LANG_RE.match(value) or (allow_auto and value == AUTO)):
        return value
    also = ", or 'auto'" if allow_auto else ""
    raise _error(error, f"{where} must be a language code like 'en' or 'pt-BR'{also}, not {shown(value)}",
                 "unknown_language")


def spoken_language(value: object, where: str, *, error: ErrorType = ProtocolError) -> str:
    """A language speech is recognised in (:data:`SPOKEN_LANGUAGES`), or ``auto`` (detected)."""
    code = language(value, where, allow_auto=True, error=error)
    if code == AUTO or code in SPOKEN_LANGUAGES:
        return code
    primary = code.split("-")[0].lower()
    hint = (f"speech is recognised by language, not region: use {primary!r}" if primary in SPOKEN_LANGUAGES
            else "GET /api/languages lists them (\"spoken\"), or 'auto' to detect it")
    raise _error(error, f"{where} must be a language speech can be recognised in, not {code!r}: {hint}",
                 "unknown_language")


def session_key(value: object, where: str, *, hint: str = "") -> str:
    """A private session's key: 8-128 printable ASCII characters, no spaces (ProtocolError ``bad_key``)."""
    if isinstance(value, str) and SESSION_KEY_RE.match(value):
        return value
    raise ProtocolError(f"{where} must be 8-128 printable ASCII characters without spaces{hint}", code="bad_key")


def text(value: object, where: str, *, max_chars: int, error: ErrorType = ProtocolError) -> str:
    """One line of text: whitespace runs become one space, the ends are trimmed; never empty.

    Refuses what is not a string, is empty once trimmed, is longer than ``max_chars``,
    or holds a control character or a lone surrogate (see the module docstring).
    """
    if not isinstance(value, str):
        raise _error(error, f"{where} must be a string, not {shown(value)}", "bad_message")
    if len(value) > max_chars:
        raise _error(error, f"{where} is longer than {max_chars} characters", "bad_message")
    clean = " ".join(value.split())
    if all(unicodedata.category(c) in ("Cf", "Zs") for c in clean):  # also only invisible marks (U+200B, U+FEFF)
        raise _error(error, f"{where} must have something to read, not only spaces or invisible characters",
                     "bad_message")
    return unicode(clean, where, error=error)


def unicode(value: str, where: str, *, error: ErrorType = ProtocolError) -> str:
    """``value`` unchanged if it can be stored and sent as UTF-8 and has no control character
    other than whitespace; the error names the first offending character and its position."""
    for position, char in enumerate(value):
        kind = unicodedata.category(char)
        if kind == "Cs":
            raise _error(error, f"{where} has a lone UTF-16 surrogate (U+{ord(char):04X}) at character "
                                f"{position}: that is half of a character, not text. Send whole characters "
                                "(in JSON escapes, both halves of a pair like \\ud83d\\ude00)", "bad_message")
        if kind == "Cc" and not char.isspace():
            raise _error(error, f"{where} has a control character (U+{ord(char):04X}) at character {position}; "
                                "send plain text", "bad_message")
    return value


def _error(error: ErrorType, message: str, code: str) -> ProtocolError | ConfigError:
    if issubclass(error, ProtocolError):
        return error(message, code=code)
    return error(message)


def shown(value: object, limit: int = 40) -> str:
    """A short repr of a client's value for an error message (never echo a megabyte back); repr escapes
    control characters and lone surrogates."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
