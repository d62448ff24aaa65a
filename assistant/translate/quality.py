"""Spot translations that went wrong, so the source text can stand in for them.

Neural translation fails in recognisable ways on short, noisy caption text: an
empty output, a word or phrase looping until the length limit, an output far
longer than the input, or one with no letters left. ``is_degenerate`` checks
for those; it is cheap and pure, called once per translated caption.

A speaker's own repetition sets such loops off: the zh→en model answers laughter as
Whisper writes it, "哈哈哈哈哈哈哈哈哈哈", with "Ha ha ha ..." to the length limit.
``squeeze_repeats`` cuts a phrase said over and over to :data:`KEPT_REPEATS` copies before
it is translated (readers of the spoken language still see every one).
"""

from __future__ import annotations

import re
import unicodedata

# Chinese, Japanese and Korean characters each carry about as much as a short
# word, so they count for several Latin letters when comparing lengths.
WIDE_CHAR_WEIGHT = 3
MAX_LENGTH_RATIO = 4.0  # translation may be this many times longer than the source...
LENGTH_SLACK_CHARS = 40  # ...plus this, so short sources can become longer phrases
MIN_REPEATS_WORD = 4  # "the the the the": one word in a row this often is a loop
MIN_REPEATS_PHRASE = 3  # a phrase of 2+ units in a row this often is a loop
MAX_PHRASE_UNITS = 8
KEPT_REPEATS = 3  # copies of a phrase repeated back to back that translation is given
LOOP_SLACK = 1  # the model may say a phrase repeated 3+ times once more than the source ("哈哈哈": "Ha ha ha ha!")
_PUNCTUATION = ".,!?;:'\"()，。！？、"

_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_UNIT = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+"
)


def weighted_length(text: str) -> int:
    """Length in characters, not counting spaces, with CJK characters weighted."""
    wide = len(_WIDE.findall(text))
    narrow = sum(1 for ch in text if not ch.isspace()) - wide
    return narrow + WIDE_CHAR_WEIGHT * wide


def units(text: str) -> list[str]:
    """Words, and single CJK characters (which have no spaces between words)."""
    return [_unit(u) for u in _UNIT.findall(text)]


def _unit(found: str) -> str:
    return found.strip(_PUNCTUATION).lower() or found


def squeeze_repeats(text: str) -> str:
    """text with every phrase (1 to MAX_PHRASE_UNITS words or CJK characters) that is repeated back
    to back more than KEPT_REPEATS times cut to KEPT_REPEATS copies; the punctuation after the last
    copy stays. "哈哈哈哈哈哈，好。" -> "哈哈哈，好。"; "no, no, no, no, no." -> "no, no, no."."""
    while True:
        found = list(_UNIT.finditer(text))
        start, times, size = _longest_run([_unit(m.group()) for m in found])
        if times <= KEPT_REPEATS:
            return text
        last_kept = found[start + KEPT_REPEATS * size - 1]
        last = found[start + times * size - 1]
        ending = last.group()[len(last.group().rstrip(_PUNCTUATION)) :]
        text = text[: last_kept.start()] + last_kept.group().rstrip(_PUNCTUATION) + ending + text[last.end() :]


def longest_repeat(units: list[str]) -> tuple[int, int]:
    """(times, phrase length) of the most repeated back-to-back phrase; (1, 1) if none."""
    _, times, size = _longest_run(units)
    return times, size


def _longest_run(units: list[str]) -> tuple[int, int, int]:
    """(start, times, phrase length) of the most repeated back-to-back phrase; (0, 1, 1) if none."""
    best = (0, 1, 1)
    for size in range(1, MAX_PHRASE_UNITS + 1):
        for start in range(0, len(units) - 2 * size + 1):
            phrase = units[start : start + size]
            times = 1
            while units[start + times * size : start + (times + 1) * size] == phrase:
                times += 1
            if times > best[1]:
                best = (start, times, size)
    return best


def _is_loop(times: int, size: int) -> bool:
    return times >= (MIN_REPEATS_WORD if size == 1 else MIN_REPEATS_PHRASE)


def _has_letters_or_digits(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def is_degenerate(source: str, translation: str) -> bool:
    """True when translation looks broken: empty, looping, far too long, or no letters.

    A repetition already in the source ("thank you, thank you, thank you") is
    not counted against the translation, nor one more copy of it.
    """
    if not _has_letters_or_digits(source):
        return False
    if not translation.strip() or not _has_letters_or_digits(translation):
        return True
    source_length = weighted_length(source)
    if weighted_length(translation) > MAX_LENGTH_RATIO * source_length + LENGTH_SLACK_CHARS:
        return True
    times, size = longest_repeat(units(translation))
    if _is_loop(times, size):
        source_times, _ = longest_repeat(units(source))
        return times > source_times + (LOOP_SLACK if source_times >= KEPT_REPEATS else 0)
    return False
