"""Translated text in progress: which languages get the growing clause translated, and how often.

Pure policy, used by :class:`~assistant.session.core.SessionCore`. The agreed
words of the open caption (the recogniser's ``stable_text``) are translated
again as they grow, per language, so translated readers see words as they are
spoken; the final translation replaces them when the caption closes.

Cost control, in this order:
- finals first: a language whose final translations are queued gets no partials
  until it has caught up (never a dropped or delayed caption for a partial);
- one partial request in flight per language, and a newer clause replaces an
  older one that has not started;
- the interval between requests follows the measured translation time
  (twice the recent latency, 0.3 to 4 s): a busy CPU gets fewer updates;
- at most :data:`MAX_PARTIAL_LANGUAGES` languages get partials at once, those
  with the most readers (the core counts a room screen above any number of phones; each costs a model call per update; eight targets on
  two cores would starve the finals); the others get finals only. A language
  keeps its partials until one without them has clearly more readers
  (:func:`displaces`), so two languages read about as much do not take turns
  as delegates come and go (each turn is text in progress gone from a phone).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PARTIAL_LANGUAGES = 4
MIN_INTERVAL_MS = 300
MAX_INTERVAL_MS = 4_000
START_INTERVAL_MS = 700
FINALS_FIRST = 2  # queued final translations of a language above which it gets no partials
SWITCH_MARGIN = 2  # readers (and a quarter more) a language needs over one with partials to take them


def displaces(readers: int, holder: int) -> bool:
    """Whether a language with ``readers`` takes partials from one that has them with ``holder`` readers."""
    return readers >= holder + SWITCH_MARGIN and 4 * readers >= 5 * holder


@dataclass(slots=True)
class _Lane:
    interval_ms: int = START_INTERVAL_MS
    in_flight: bool = False
    last_request_ms: int | None = None
    requested: tuple[int, str] | None = None  # (epoch, text) last asked for
    shown_epoch: int | None = None  # epoch of the translated partial readers see now


@dataclass(frozen=True, slots=True)
class PartialRequest:
    lang: str
    epoch: int
    text: str


class PartialTranslations:
    """Per-language schedule of partial translations (see the module docstring)."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._epoch = 0  # counts closed captions: a partial of an older epoch is stale
        self._clause: tuple[str, int, int] | None = None  # agreed text of the open caption, start, end
        self._chosen: list[str] = []  # the languages that get partials now

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def waiting(self) -> bool:
        """Whether a caption is open with agreed words to translate."""
        return self._clause is not None

    @property
    def span(self) -> tuple[int, int]:
        return (self._clause[1], self._clause[2]) if self._clause else (0, 0)

    def caption_closed(self) -> int:
        """The open caption became final; returns its epoch (its partials are stale from now on)."""
        closed = self._epoch
        self._epoch += 1
        self._clause = None
        return closed

    def clause(self, stable: str, start_ms: int, end_ms: int) -> None:
        """The agreed words of the open caption now."""
        self._clause = (stable.strip(), start_ms, end_ms) if stable.strip() else None

    def due(self, readers: dict[str, int], finals_queued: dict[str, int], now_ms: int) -> list[PartialRequest]:
        """The partial translations to request now, languages with more readers first."""
        if self._clause is None:
            return []
        text = self._clause[0]
        out = []
        for lang in self.choose(readers):
            lane = self._lanes.setdefault(lang, _Lane())
            if lane.in_flight or finals_queued.get(lang, 0) > FINALS_FIRST:
                continue
            if lane.requested == (self._epoch, text):
                continue
            if lane.last_request_ms is not None and now_ms - lane.last_request_ms < lane.interval_ms:
                continue
            lane.in_flight = True
            lane.last_request_ms = now_ms
            lane.requested = (self._epoch, text)
            out.append(PartialRequest(lang, self._epoch, text))
        return out

    def answered(self, lang: str, epoch: int, requested_at_ms: int, now_ms: int) -> bool:
        """A partial came back (or failed); True when it is still for the open caption (show it)."""
        lane = self._lanes.setdefault(lang, _Lane())
        lane.in_flight = False
        took = max(now_ms - requested_at_ms, 0)
        lane.interval_ms = min(MAX_INTERVAL_MS, max(MIN_INTERVAL_MS, (lane.interval_ms + 2 * took) // 2))
        if epoch != self._epoch:
            return False
        lane.shown_epoch = epoch
        return True

    def final_released(self, lang: str, epoch: int) -> bool:
        """The final translation of the caption of ``epoch`` was stored; True when the partial shown must clear."""
        lane = self._lanes.get(lang)
        if lane is None or lane.shown_epoch is None or lane.shown_epoch > epoch:
            return False
        lane.shown_epoch = None
        return True

    def choose(self, readers: dict[str, int]) -> list[str]:
        """The languages that get partials, most readers first, given the readers per language now."""
        chosen = [lang for lang in self._chosen if readers.get(lang, 0) > 0]
        rest = sorted((lang for lang in readers if lang not in chosen and readers[lang] > 0),
                      key=lambda lang: (-readers[lang], lang))
        for lang in rest:
            if len(chosen) < MAX_PARTIAL_LANGUAGES:
                chosen.append(lang)
                continue
            weakest = min(chosen, key=lambda c: (readers[c], c))
            if displaces(readers[lang], readers[weakest]):
                chosen[chosen.index(weakest)] = lang
        self._chosen = sorted(chosen, key=lambda lang: (-readers[lang], lang))
        return self._chosen

    def forget(self, lang: str) -> None:
        """Nobody reads ``lang`` any more."""
        self._lanes.pop(lang, None)

    def report(self, readers: dict[str, int]) -> dict[str, dict[str, int | str]]:
        """Per language: whether it gets partials and how often (for the chair console)."""
        chosen = set(self.choose(readers))
        out: dict[str, dict[str, int | str]] = {}
        for lang in readers:
            lane = self._lanes.get(lang, _Lane())
            state = "off" if lang not in chosen else ("slowed" if lane.interval_ms > START_INTERVAL_MS * 2 else "live")
            out[lang] = {"partials": state, "interval_ms": lane.interval_ms}
        return out
