"""Word-level text rules of the recogniser: comparison, joining, punctuation, loops, hallucinations.

Pure functions over :class:`~assistant.captions.Word` sequences; the
recogniser calls them on every hypothesis.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Final

from assistant.captions import Word

SENTENCE_END: Final = frozenset(".?!…。？！؟")
CLAUSE_END: Final = frozenset(",;:，；：、")
# Closing quotes/brackets that may trail the punctuation mark.
TRAILING_CLOSERS: Final = "\"'”’»)]"
# Symbols that stand for spoken words ("4" "%"); any other "word" without a letter or
# digit is a stray mark Whisper emits into silence (" .", " -", "_____").
SPOKEN_SYMBOLS: Final = frozenset("%$€£¥&+=#@§°")
# A phrase repeated this many times in a row may be a decoding loop: it is one when its
# words are shorter than spoken words can be (the aligner squeezes a loop's copies), or
# when it repeats more often than a speaker plausibly does. A speaker's own repetition
# ("more words words words words", "no no no no") keeps its full length.
LOOP_MIN_REPEATS: Final = 3
SINGLE_WORD_LOOP_MIN_REPEATS: Final = 4
LOOP_MAX_WORD_MS: Final = 120
LOOP_SURE_REPEATS: Final = 6
SINGLE_WORD_LOOP_SURE_REPEATS: Final = 10
# Longest phrase checked for loops and crammed copies: a whole sentence or menu prompt
# ("для справки нажмите ноль, буквы из имени вашего абонента," is nine words).
LOOP_MAX_NGRAM: Final = 16
# A back-to-back copy of a phrase squeezed into less than this share of the
# original's duration is the aligner stacking a loop at a window edge, not speech.
# The copy may be misspelt ("Африке в атфрике в", see similar_word).
CRAMMED_COPY_RATIO: Final = 0.5
# A word repeating the last letters (3 or more, not the whole) of the word right before it,
# within this gap, is an echo of a word cut by the window edge ("миров ров").
TAIL_ECHO_MAX_GAP_MS: Final = 300
# Words this long that differ only in their ending, or are this alike (difflib's ratio),
# are the same word re-decoded.
SIMILAR_MIN_CHARS: Final = 4
SIMILAR_MIN_CHARS_MISSPELT: Final = 5
SIMILAR_LIKENESS: Final = 0.7

# Stock phrases Whisper produces on silence, music and noise (learned from subtitle
# credits in its training data). Lower-case, punctuation-free, prefix match.
KNOWN_HALLUCINATIONS: Final = (
    "thanks for watching",
    "thank you for watching",
    "thank you for listening",
    "thanks for listening",
    "please subscribe",
    "like and subscribe",
    "subtitles by",
    "subtitled by",
    "translated by",
    "transcribed by",
    "transcription by",
    "captions by",
    "amara org",
    "see you in the next video",
    "see you next time",
    "продолжение следует",
    "субтитры",
    "редактор субтитров",
    "sous titres",
    "sous titrage",
    "subtítulos",
    "untertitel",
    "gracias por ver",
)

# A single word in capitals this long is a sound annotation ("APPLAUSE"), not an acronym.
ANNOTATION_MIN_CHARS: Final = 8

# Words whose full stop is not a sentence end (normalised form).
ABBREVIATIONS: Final = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e g i e no vol fig approx dept inc ltd co "
    "a b c d f h j k l m n o p q r s t u v w x y z".split()
)

_SPACE = re.compile(r"\s+")


# Two passes' different splits of the same letters agree over at most this many words a side.
RESPLIT_MAX_WORDS: Final = 3
# Whisper's aligner starts a new word at a punctuation token, so one written word comes back
# in pieces: "5" ".00", "28.8" "-kilometre", "well" "-known", "U" ".S.", "l" "'homme", "50" "%".
# A piece with no space before it that starts with one of these belongs to the word before.
WORD_PIECE_MARKS: Final = frozenset(".,:/-‐‑–'’%")


def normalize(text: str) -> str:
    """Lower-case ``text`` without punctuation or extra spaces, for comparing words."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.lower())
    return _SPACE.sub(" ", kept).strip()


def same_words(a: Sequence[Word], b: Sequence[Word]) -> bool:
    """Whether two word runs say the same thing, ignoring case and punctuation."""
    return len(a) == len(b) and all(normalize(x.text) == normalize(y.text) for x, y in zip(a, b))


def similar_word(a: str, b: str) -> bool:
    """Whether two normalised words are the same word, up to an ending ("america"/"americans")
    or a misspelling of a re-decoding ("bussum"/"busom", "африке"/"атфрике"; ``SIMILAR_LIKENESS``)."""
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < SIMILAR_MIN_CHARS:
        return False
    if a.startswith(b) or b.startswith(a):
        return True
    return shorter >= SIMILAR_MIN_CHARS_MISSPELT and SequenceMatcher(None, a, b).ratio() >= SIMILAR_LIKENESS


def alike_words(a: Sequence[Word], b: Sequence[Word]) -> bool:
    """Whether two word runs are the same words, some possibly misspelt (see :func:`similar_word`)."""
    return len(a) == len(b) and all(similar_word(normalize(x.text), normalize(y.text)) for x, y in zip(a, b))


def common_prefix_length(a: Sequence[Word], b: Sequence[Word]) -> int:
    """Number of leading words of ``b`` that ``a`` agrees with (LocalAgreement).

    Two passes may split the same letters into words differently ("сквозь балки" /
    "сквозьбалки", "на медные" / "намедные") or write one word otherwise ("5-0-0" / "500"):
    up to ``RESPLIT_MAX_WORDS`` words on either side that spell the same count as agreed
    (in ``b``'s words).
    """
    i = j = 0
    while i < len(a) and j < len(b):
        if normalize(a[i].text) == normalize(b[j].text):
            i, j = i + 1, j + 1
            continue
        split = next(
            ((da, db) for da in range(1, RESPLIT_MAX_WORDS + 1) for db in range(1, RESPLIT_MAX_WORDS + 1)
             if i + da <= len(a) and j + db <= len(b) and _letters(a[i : i + da]) == _letters(b[j : j + db]) != ""),
            None,
        )
        if split is None:
            break
        i, j = i + split[0], j + split[1]
    return j


def join_word_pieces(words: Sequence[Word]) -> list[Word]:
    """The words of one decoded segment with the pieces Whisper split off a word joined back to it.

    A piece is a "word" without a leading space that starts with a mark of
    ``WORD_PIECE_MARKS``, right after a word ending in a letter or digit: "5" ".00"
    is "5.00". Left apart, the pieces of a number said as words ("five hundred":
    "5" "-0-0") agree and commit one by one while the rest is still being decoded.
    The joined word spans its pieces; its probability is their mean.
    """
    groups: list[list[Word]] = []
    for w in words:
        last = groups[-1][-1] if groups else None
        if last is not None and w.text[:1] in WORD_PIECE_MARKS and last.text[-1:].isalnum():
            groups[-1].append(w)
        else:
            groups.append([w])
    return [
        g[0] if len(g) == 1 else
        Word("".join(w.text for w in g), g[0].start_ms, max(w.end_ms for w in g), sum(w.probability for w in g) / len(g))
        for g in groups
    ]


def _letters(words: Sequence[Word]) -> str:
    return "".join(normalize(w.text).replace(" ", "") for w in words)


def join_words(words: Sequence[Word]) -> str:
    """Rebuild text from model words (their leading spaces are kept by the transcriber)."""
    return _SPACE.sub(" ", "".join(w.text for w in words)).strip()


def text_width(text: str) -> int:
    """Columns ``text`` takes on screen: Chinese, Japanese and Korean characters count two,
    so a line limit means the same space in every language."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _last_mark(text: str) -> str:
    stripped = text.rstrip().rstrip(TRAILING_CLOSERS)
    return stripped[-1:] if stripped else ""


def ends_sentence(word: Word) -> bool:
    """Whether the word closes a sentence (abbreviations such as "Mr." do not)."""
    return _last_mark(word.text) in SENTENCE_END and normalize(word.text) not in ABBREVIATIONS


def ends_clause(word: Word) -> bool:
    return _last_mark(word.text) in CLAUSE_END


def collapse_repeats(words: Sequence[Word]) -> list[Word]:
    """Drop a phrase repeated back to back beyond what speech plausibly does.

    A run of the same n-gram (n = 2..8) three or more times, or the same single
    word four or more times, is a decoding loop when its words average under
    ``LOOP_MAX_WORD_MS`` or it repeats ``LOOP_SURE_REPEATS`` (single words
    ``SINGLE_WORD_LOOP_SURE_REPEATS``) times or more: keep one occurrence.
    Slower runs are a speaker repeating themself and stay.
    """
    out = list(words)
    i = 0
    while i < len(out):
        collapsed = False
        for n in range(1, LOOP_MAX_NGRAM + 1):
            need = SINGLE_WORD_LOOP_MIN_REPEATS if n == 1 else LOOP_MIN_REPEATS
            if i + n * need > len(out):
                break
            gram = out[i : i + n]
            reps = 1
            while i + (reps + 1) * n <= len(out) and same_words(gram, out[i + reps * n : i + (reps + 1) * n]):
                reps += 1
            run = out[i : i + reps * n]
            mean_ms = sum(max(0, w.end_ms - w.start_ms) for w in run) / max(1, len(run))
            sure = SINGLE_WORD_LOOP_SURE_REPEATS if n == 1 else LOOP_SURE_REPEATS
            if reps >= need and (mean_ms < LOOP_MAX_WORD_MS or reps >= sure):
                # keep the last copy: it carries the phrase's closing punctuation
                del out[i : i + (reps - 1) * n]
                # a loop cut off by the window end leaves a partial copy behind
                k = 0
                while k < n - 1 and i + n + k < len(out) and same_words(gram[k : k + 1], out[i + n + k : i + n + k + 1]):
                    k += 1
                if k and i + n + k == len(out):
                    del out[i + n :]
                collapsed = True
                break
        if not collapsed:
            i += 1
    return out


def drop_stacked(words: Sequence[Word]) -> list[Word]:
    """Drop runs of two or more zero-length words: Whisper's aligner stacks looped text at one instant."""
    out: list[Word] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and words[j].end_ms <= words[j].start_ms:
            j += 1
        if j - i >= 2:
            i = j
            continue
        out.extend(words[i : max(j, i + 1)])
        i = max(j, i + 1)
    return out


_CHAR_LOOP = re.compile(r"([^\W\d_])\1{4,}")


def is_char_loop(text: str) -> bool:
    """A "word" with one letter five or more times in a row ("полицииииииии", "спппппп"):
    Whisper repeating one token inside a word, not speech."""
    return bool(_CHAR_LOOP.search(text))


def is_tail_echo(previous: Word, word: Word) -> bool:
    """Whether ``word`` is just the last letters of ``previous`` said again right after it
    ("миров" "ров"): Whisper re-decoding a word cut by the window edge."""
    a, b = normalize(previous.text), normalize(word.text)
    return (3 <= len(b) <= len(a) - 2 and a.endswith(b) and " " not in b
            and word.start_ms - previous.end_ms < TAIL_ECHO_MAX_GAP_MS)


def is_stray_mark(text: str) -> bool:
    """A "word" without a letter or digit that is not a symbol people say ("%", "$"):
    punctuation Whisper emits into silence (" .", " -"), or a rule of underscores."""
    stripped = text.strip()
    return not any(c.isalnum() for c in stripped) and not (stripped and set(stripped) <= SPOKEN_SYMBOLS)


def drop_crammed_copies(words: Sequence[Word]) -> list[Word]:
    """Drop a phrase's immediate copy when it is squeezed into a fraction of the original's time.

    Whisper repeats the last phrase into trailing silence ("fellow Americans.
    Americans."), sometimes misspelt ("Африке в атфрике в"), and the aligner
    crams the copy into a few milliseconds, or gives one of its words no time
    at all; a spoken repetition ("very very", "no, no") takes about as long as
    the first, every word of it audible.
    Stray marks (a lone "." or "-") and words looping on one letter are dropped too.
    """
    out = [w for w in words if not is_stray_mark(w.text) and not is_char_loop(w.text)]
    # the tail of the word before, again ("миров ров", "льды ды"): an echo at a window edge
    out = [w for i, w in enumerate(out) if not (i and is_tail_echo(out[i - 1], w))]
    i = 1
    while i < len(out):
        for n in range(min(i, len(out) - i, LOOP_MAX_NGRAM), 0, -1):
            first, copy = out[i - n : i], out[i : i + n]
            if alike_words(first, copy):
                span = max(1, first[-1].end_ms - first[0].start_ms)
                unplaced = any(w.end_ms <= w.start_ms for w in copy)
                if unplaced or copy[-1].end_ms - copy[0].start_ms < CRAMMED_COPY_RATIO * span:
                    del out[i : i + n]
                    break
        else:
            i += 1
    return out


def is_sound_annotation(text: str) -> bool:
    """Whether ``text`` is a subtitle's description of sound, not speech: in brackets
    ("[Music]", "(аплодисменты)", "*laughs*") or in capitals ("СПОКОЙНАЯ МУЗЫКА",
    "GENTLE MUSIC"). Whisper learned these from subtitles and writes them into pauses.
    An acronym ("NASA", "the UN") is short, and said with other words.
    """
    stripped = text.strip().strip(".,!?…:;-–— ")
    if len(stripped) >= 3 and stripped[0] in "[(*" and stripped[-1] in "])*":
        return True
    cased = [c for c in stripped if c.upper() != c.lower()]  # none in Chinese or Arabic
    if not cased or any(c.islower() for c in cased):
        return False
    words = [w for w in normalize(stripped).split() if len(w) >= 3]
    return len(words) >= 2 or any(len(w) >= ANNOTATION_MIN_CHARS for w in words)


def is_known_hallucination(text: str) -> bool:
    """Whether ``text`` is, or is the start of, one of Whisper's stock credits/farewells.

    A prefix counts too ("Thank you for"), as streaming sees the phrase grow.
    """
    norm = normalize(text)
    return bool(norm) and any(norm.startswith(h) or h.startswith(norm) for h in KNOWN_HALLUCINATIONS)


def strip_word(word: Word) -> Word:
    """The word with surrounding spaces removed, as captions carry it."""
    return Word(word.text.strip(), word.start_ms, word.end_ms, word.probability)
