"""The floor's questions: one session's moderated Q&A as plain Python (no I/O).

One :class:`QuestionBoard` per session. Like :class:`~.core.SessionCore` it never
awaits, reads a clock, or touches a store, a socket or a model;
``assistant.server.questions`` drives it::

    board.submit(device, address, text, lang, name, now_ms)   # a delegate asks (limits checked here)
    board.vote(question_id, device, address, now_ms)          # a delegate up-votes, once per device
    board.moderate(question_id, action, now_ms, into=None)    # the chair: approve, reject, merge, answering, answered
    board.reader_language(lang)                               # someone reads lang: visible questions go there too
    board.receive_translation(job, text, fallback) / board.receive_translation_failure(job)
    for effect in board.effects(): ...                        # store, translate, publish

States (``action`` → state; a question never goes back to ``pending``)::

    pending ──approve──▶ approved ──answering──▶ answering ──answered──▶ answered
       │ └────────reject──────▶ rejected ◀──reject── (approved, answering)
       └─merge / approved─merge─▶ merged (into another question; its voters join that one)

``answering`` and ``answered`` may also be given to a pending question (the chair
picked it: that approves it), ``approve`` reopens a rejected or answered one, and at
most one question is ``answering``: choosing another marks the previous one
answered. Delegates see ``approved``, ``answering`` and ``answered`` questions;
only the chair sees ``pending`` and ``rejected`` ones, and a visible question
that is rejected or merged later reaches readers as a frame that removes it.

Languages: the chair reads every question in the session's language (the
original beside it); readers get visible questions in their own language. A
translation tries the original first, then the chair's translation (a pivot
where no package goes from the asker's language to the reader's); where none
works the original stands in, marked ``fallback``, as for captions.

Devices and addresses are opaque strings: the adapter hashes the device id a
page sends (a device id is no authentication, only a way to count) and passes
the client address. Limits: text length, one question per device every
``min_interval_ms``, ``per_device`` questions per session, and per address a
sliding window over questions and votes (one phone cannot pretend to be many
devices for long). Every refusal says what to do and, where waiting helps, when.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Union, get_args

from .. import protocol, validate
from ..errors import LimitError, NotFoundError, ProtocolError
from .effects import CHAIR_TOPIC, Publish

QuestionState = Literal["pending", "approved", "answering", "answered", "rejected", "merged"]
ModerationAction = Literal["approve", "reject", "merge", "answering", "answered"]
MODERATION_ACTIONS: tuple[str, ...] = get_args(ModerationAction)
VISIBLE_STATES = frozenset({"approved", "answering", "answered"})  # what delegates see
VOTABLE_STATES = frozenset({"approved", "answering"})
MERGE_TARGET_STATES = frozenset({"pending", "approved", "answering", "answered"})
# action → (the state it leads to, the states it may start from)
_TRANSITIONS: dict[str, tuple[QuestionState, frozenset[str]]] = {
    "approve": ("approved", frozenset({"pending", "rejected", "answered"})),
    "reject": ("rejected", frozenset({"pending", "approved", "answering"})),
    "answering": ("answering", frozenset({"pending", "approved", "answered"})),
    "answered": ("answered", frozenset({"pending", "approved", "answering"})),
    "merge": ("merged", frozenset({"pending", "approved"})),
}


@dataclass(frozen=True, slots=True)
class QuestionLimits:
    """What one device and one address may ask and vote; the defaults suit a conference room."""

    max_chars: int = 500  # a question, after spaces are collapsed
    max_name_chars: int = 60
    min_interval_ms: int = 30_000  # between two questions of one device
    per_device: int = 5  # questions one device may ask in one session
    per_session: int = 1000  # questions a session holds (device ids are free to make)
    address_questions: int = 20  # questions from one address per window
    address_votes: int = 300  # votes from one address per window
    address_window_ms: int = 600_000


@dataclass(frozen=True, slots=True)
class Question:
    """One question as asked (``lang``, ``text``) and where it stands; ``revision`` grows with every change."""

    session: str
    id: str
    number: int  # 1, 2, ... in the order asked: "Q3" in the console and the exports
    lang: str
    text: str
    device: str  # opaque (a hash of the asking device's id)
    asked_at_ms: int
    name: str | None = None
    state: QuestionState = "pending"
    merged_into: str | None = None
    votes: int = 0
    revision: int = 0
    changed_at_ms: int = 0

    @property
    def visible(self) -> bool:
        return self.state in VISIBLE_STATES


@dataclass(frozen=True, slots=True)
class QuestionText:
    """A question's text in one language; ``fallback``: no translation reached it, the original stands in."""

    lang: str
    text: str
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class StoredQuestion:
    """A question as the store gives it back at start: with its texts and its voters."""

    question: Question
    texts: tuple[QuestionText, ...]
    voters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuestionJob:
    """Translate question ``question_id`` into ``lang`` from the first of ``sources`` that has a route."""

    session: str
    question_id: str
    lang: str
    sources: tuple[QuestionText, ...]


@dataclass(frozen=True, slots=True)
class QuestionSaved:
    """Store the question's row (insert, or update its state, votes, merge and revision)."""

    question: Question


@dataclass(frozen=True, slots=True)
class QuestionTextSaved:
    """Store one language's text of a question."""

    session: str
    question_id: str
    text: QuestionText


@dataclass(frozen=True, slots=True)
class VotesAdded:
    """Store these devices as voters of the question (a vote, or the voters a merge brought)."""

    session: str
    question_id: str
    devices: tuple[str, ...]
    at_ms: int


@dataclass(frozen=True, slots=True)
class TranslateQuestion:
    """Translate; answer with ``receive_translation`` or ``receive_translation_failure``."""

    job: QuestionJob


QuestionEffect = Union[QuestionSaved, QuestionTextSaved, VotesAdded, TranslateQuestion, Publish]


class _Window:
    """A sliding window of event times: at most ``limit`` within ``span_ms``."""

    def __init__(self, limit: int, span_ms: int) -> None:
        self.limit = limit
        self.span_ms = span_ms
        self.times: deque[int] = deque()

    def wait_ms(self, now_ms: int) -> int:
        """0 when one more event fits now, else how long until one does."""
        while self.times and self.times[0] <= now_ms - self.span_ms:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0
        return self.times[0] + self.span_ms - now_ms

    def add(self, now_ms: int) -> None:
        self.times.append(now_ms)


def clean_text(value: str, where: str) -> str:
    """One line: runs of white space made one space; a control character or a lone surrogate is refused
    (ProtocolError ``bad_message`` naming it), as in a caption: nothing a delegate typed is dropped."""
    return validate.unicode(" ".join(value.split()), where)


def sort_key(q: Question) -> tuple[int, int]:
    """Most votes first, then in the order asked."""
    return (-q.votes, q.number)


class QuestionBoard:
    """One session's questions; see the module docstring for the verbs."""

    def __init__(self, session_id: str, chair_lang: str, *, new_id: Callable[[], str],
                 stored: Iterable[StoredQuestion] = (), languages: Iterable[str] = (),
                 limits: QuestionLimits = QuestionLimits()) -> None:
        self.session_id = session_id
        self.chair_lang = chair_lang
        self.limits = limits
        self._new_id = new_id
        self._questions: dict[str, Question] = {}
        self._texts: dict[str, dict[str, QuestionText]] = {}
        self._voters: dict[str, set[str]] = {}
        self._asked: dict[str, list[int]] = {}  # device → times it asked
        self._windows: dict[tuple[str, str], _Window] = {}  # (kind, address) → recent events
        self._langs: set[str] = {chair_lang, *languages}
        self._requested: set[tuple[str, str]] = set()  # (question, lang) translations under way
        self._waiting: dict[str, set[str]] = {}  # question → languages waiting for its chair text
        self._effects: list[QuestionEffect] = []
        self._number = 0
        for s in stored:
            q = s.question
            self._questions[q.id] = q
            self._texts[q.id] = {t.lang: t for t in s.texts}
            self._texts[q.id].setdefault(q.lang, QuestionText(q.lang, q.text))
            self._voters[q.id] = set(s.voters)
            self._asked.setdefault(q.device, []).append(q.asked_at_ms)
            self._number = max(self._number, q.number)
        for q in self._questions.values():  # translations that were under way when the server stopped
            self._need_chair_text(q)
            if q.visible:
                for lang in sorted(self._langs):
                    self._ensure(q, lang)

    # -- pulled by the adapter ----------------------------------------------
    def effects(self) -> list[QuestionEffect]:
        """The effects queued since the last call, in order; the caller must carry out every one."""
        out, self._effects = self._effects, []
        return out

    # -- what handlers read ---------------------------------------------------
    def get(self, question_id: str) -> Question:
        q = self._questions.get(question_id)
        if q is None:
            raise NotFoundError(f"no question {question_id!r} in session {self.session_id!r}")
        return q

    def text_in(self, question_id: str, lang: str) -> QuestionText | None:
        return self._texts.get(question_id, {}).get(lang)

    def questions(self, *, visible_only: bool = False) -> list[Question]:
        """The questions, most votes first (then in the order asked)."""
        qs = [q for q in self._questions.values() if q.visible or not visible_only]
        return sorted(qs, key=sort_key)

    def of_device(self, device: str) -> list[Question]:
        """The questions this device asked, in the order asked."""
        return sorted((q for q in self._questions.values() if q.device == device), key=lambda q: q.number)

    def voted_by(self, device: str) -> list[str]:
        return sorted(qid for qid, voters in self._voters.items() if device in voters)

    @property
    def answering(self) -> Question | None:
        """The question being answered now (the room screen shows it), if any."""
        return next((q for q in self._questions.values() if q.state == "answering"), None)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages visible questions are translated into."""
        return tuple(sorted(self._langs))

    # -- delegates -----------------------------------------------------------------
    def submit(self, device: str, address: str, text: str, lang: str, name: str | None, now_ms: int) -> Question:
        """A delegate's question; LimitError or ProtocolError (with the fix) when refused."""
        lim = self.limits
        text = clean_text(text, "the question")
        if not text:
            raise ProtocolError("the question is empty; type it, then send", code="empty")
        if len(text) > lim.max_chars:
            raise ProtocolError(f"the question is {len(text)} characters long; at most {lim.max_chars} "
                                "fit: shorten it", code="too_long")
        name = clean_text(name or "", "the name") or None
        if name is not None and len(name) > lim.max_name_chars:
            raise ProtocolError(f"the name is longer than {lim.max_name_chars} characters", code="too_long")
        if len(self._questions) >= lim.per_session:
            raise ProtocolError(f"this session has taken {lim.per_session} questions, all it can; "
                                "ask the chair in person", code="question_limit")
        asked = self._asked.get(device, [])
        if len(asked) >= lim.per_device:
            raise ProtocolError(f"you have asked {lim.per_device} questions in this session, the most one device "
                                "may", code="question_limit")
        if asked:
            wait = max(asked) + lim.min_interval_ms - now_ms
            if wait > 0:
                raise LimitError(f"you asked a moment ago; wait {_seconds(wait)} s before asking again",
                                 retry_after_s=_seconds(wait))
        window = self._window("questions", address)
        wait = window.wait_ms(now_ms)
        if wait > 0:
            raise LimitError(f"too many questions from your network just now; wait {_seconds(wait)} s",
                             retry_after_s=_seconds(wait))
        window.add(now_ms)
        self._asked.setdefault(device, []).append(now_ms)
        self._number += 1
        q = Question(self.session_id, self._new_id(), self._number, lang, text, device, now_ms, name=name,
                     changed_at_ms=now_ms)
        self._questions[q.id] = q
        self._texts[q.id] = {lang: QuestionText(lang, text)}
        self._voters[q.id] = set()
        self._emit(QuestionSaved(q))
        self._emit(QuestionTextSaved(self.session_id, q.id, QuestionText(lang, text)))
        self._need_chair_text(q)
        self._publish_chair(q)
        return q

    def vote(self, question_id: str, device: str, address: str, now_ms: int) -> tuple[Question, bool]:
        """A delegate's up-vote; returns the question voted for and whether the vote counted (False: had it)."""
        q = self._follow(self.get(question_id))
        if q.state not in VOTABLE_STATES:
            why = "was answered" if q.state == "answered" else "is not open for votes"
            raise ProtocolError(f"question {q.number} {why}", code="bad_state")
        voters = self._voters[q.id]
        if device in voters:
            return q, False
        window = self._window("votes", address)
        wait = window.wait_ms(now_ms)
        if wait > 0:
            raise LimitError(f"too many votes from your network just now; wait {_seconds(wait)} s",
                             retry_after_s=_seconds(wait))
        window.add(now_ms)
        voters.add(device)
        self._emit(VotesAdded(self.session_id, q.id, (device,), now_ms))
        return self._change(q, now_ms, votes=len(voters)), True

    def reader_language(self, lang: str) -> None:
        """Someone reads ``lang``: visible questions are translated into it (once)."""
        if lang in self._langs:
            return
        self._langs.add(lang)
        for q in self.questions(visible_only=True):
            self._ensure(q, lang)

    # -- the chair -----------------------------------------------------------------
    def moderate(self, question_id: str, action: str, now_ms: int, *, into: str | None = None) -> Question:
        """Apply a chair's ``action``; doing what is done already changes nothing."""
        if action not in _TRANSITIONS:
            raise ProtocolError(f"unknown action {action!r}; use one of {', '.join(MODERATION_ACTIONS)}",
                                code="bad_action")
        q = self.get(question_id)
        target, sources = _TRANSITIONS[action]
        if action == "merge":
            return self._merge(q, into, now_ms)
        if q.state == target:
            return q
        if q.state not in sources:
            raise ProtocolError(f"question {q.number} is {q.state}; it cannot be {_past(action)} now",
                                code="bad_state")
        if target == "answering":
            current = self.answering
            if current is not None:
                self._change(current, now_ms, state="answered")
        return self._change(q, now_ms, state=target)

    def _merge(self, q: Question, into: str | None, now_ms: int) -> Question:
        if into is None:
            raise ProtocolError('merging needs "into": the id of the question to keep', code="bad_message")
        keep = self.get(into)
        if keep.id == q.id:
            raise ProtocolError("a question cannot be merged into itself", code="bad_state")
        if q.state == "merged" and q.merged_into == keep.id:
            return q
        if q.state not in _TRANSITIONS["merge"][1]:
            raise ProtocolError(f"question {q.number} is {q.state}; only pending or approved questions "
                                "can be merged", code="bad_state")
        if keep.state not in MERGE_TARGET_STATES:
            raise ProtocolError(f"question {keep.number} is {keep.state}; merge into a question that is "
                                "pending, approved or answered", code="bad_state")
        # The duplicate's asker and voters want the kept question answered: they count for it.
        voters = self._voters[keep.id]
        joining = tuple(sorted((self._voters[q.id] | {q.device}) - voters))
        voters.update(joining)
        merged = self._change(q, now_ms, state="merged", merged_into=keep.id)
        if joining:
            self._emit(VotesAdded(self.session_id, keep.id, joining, now_ms))
            self._change(keep, now_ms, votes=len(voters))
        return merged

    # -- translations --------------------------------------------------------------
    def receive_translation(self, job: QuestionJob, text: str, fallback: bool) -> None:
        """A translation came back (``fallback``: none was possible, the original stands in)."""
        self._requested.discard((job.question_id, job.lang))
        q = self._questions.get(job.question_id)
        if q is None:
            return
        qt = QuestionText(job.lang, text, fallback)
        self._texts[q.id][job.lang] = qt
        self._emit(QuestionTextSaved(self.session_id, q.id, qt))
        if job.lang == self.chair_lang:
            self._publish_chair(q)
            for lang in sorted(self._waiting.pop(q.id, ())):
                self._ensure(q, lang)
        if q.visible:
            self._emit(Publish(job.lang, question_frame(q, qt)))

    def receive_translation_failure(self, job: QuestionJob) -> None:
        """No translation was possible (no route, or the engine failed): the original stands in, marked."""
        q = self._questions.get(job.question_id)
        self.receive_translation(job, q.text if q is not None else "", True)

    # -- internals -------------------------------------------------------------------
    def _emit(self, effect: QuestionEffect) -> None:
        self._effects.append(effect)

    def _window(self, kind: str, address: str) -> _Window:
        key = (kind, address)
        window = self._windows.get(key)
        if window is None:
            limit = self.limits.address_questions if kind == "questions" else self.limits.address_votes
            window = self._windows[key] = _Window(limit, self.limits.address_window_ms)
        return window

    def _follow(self, q: Question) -> Question:
        """A merged question's vote goes to the question it was merged into."""
        seen = {q.id}
        while q.state == "merged" and q.merged_into is not None and q.merged_into not in seen:
            seen.add(q.merged_into)
            q = self._questions[q.merged_into]
        return q

    def _change(self, q: Question, now_ms: int, **changes: Any) -> Question:
        was_visible = q.visible
        new = dataclasses.replace(q, **changes, revision=q.revision + 1, changed_at_ms=now_ms)
        self._questions[q.id] = new
        self._emit(QuestionSaved(new))
        self._publish_chair(new)
        if new.visible:
            for lang in sorted(self._langs):
                self._ensure(new, lang)
                qt = self._texts[new.id].get(lang)
                if qt is not None:
                    self._emit(Publish(lang, question_frame(new, qt)))
        elif was_visible:
            for lang in sorted(self._langs):
                self._emit(Publish(lang, question_frame(new, None)))
        return new

    def _need_chair_text(self, q: Question) -> None:
        if self.chair_lang not in self._texts[q.id]:
            self._request(q, self.chair_lang, (QuestionText(q.lang, q.text),))

    def _ensure(self, q: Question, lang: str) -> None:
        """Have ``q`` translated into ``lang`` unless it is there or on its way."""
        texts = self._texts[q.id]
        if lang in texts or (q.id, lang) in self._requested:
            return
        chair = texts.get(self.chair_lang)
        if chair is None:
            self._waiting.setdefault(q.id, set()).add(lang)  # the pivot comes first
            return
        sources = [QuestionText(q.lang, q.text)]
        if chair.lang != q.lang and not chair.fallback:
            sources.append(QuestionText(chair.lang, chair.text))
        self._request(q, lang, tuple(sources))

    def _request(self, q: Question, lang: str, sources: tuple[QuestionText, ...]) -> None:
        if (q.id, lang) in self._requested:
            return
        self._requested.add((q.id, lang))
        self._emit(TranslateQuestion(QuestionJob(self.session_id, q.id, lang, sources)))

    def _publish_chair(self, q: Question) -> None:
        self._emit(Publish(CHAIR_TOPIC, moderation_frame(q, self._texts[q.id].get(self.chair_lang))))

    # -- frames ----------------------------------------------------------------------
    def visible_in(self, lang: str) -> list[dict[str, Any]]:
        """Every visible question there is text for in ``lang``, most votes first (the rest follow as frames)."""
        self.reader_language(lang)
        items = []
        for q in self.questions(visible_only=True):
            qt = self._texts[q.id].get(lang)
            if qt is not None:
                items.append(question_dict(q, qt))
        return items

    def snapshot_frame(self, lang: str) -> protocol.Frame:
        """The ``questions`` frame a new reader of ``lang`` gets (see :meth:`visible_in`)."""
        return protocol.info("questions", {"lang": lang, "questions": self.visible_in(lang)})

    def chair_dict(self, q: Question) -> dict[str, Any]:
        """A question as the chair console shows it (also the REST answers to the chair)."""
        return moderation_dict(q, self._texts[q.id].get(self.chair_lang))


def question_dict(q: Question, qt: QuestionText | None) -> dict[str, Any]:
    """A question as a reader of ``qt.lang`` sees it; with no text, only what removes it from view."""
    d: dict[str, Any] = {"id": q.id, "number": q.number, "state": q.state, "revision": q.revision}
    if q.merged_into is not None:
        d["merged_into"] = q.merged_into
    if qt is None or not q.visible:
        return d
    d.update({"lang": qt.lang, "text": qt.text, "votes": q.votes, "asked_at": q.asked_at_ms})
    if q.name is not None:
        d["name"] = q.name
    if qt.lang != q.lang:
        d["source_lang"] = q.lang
        d["source_text"] = q.text
        d["machine_translated"] = not qt.fallback
    if qt.fallback:
        d["fallback"] = True
    return d


def moderation_dict(q: Question, chair: QuestionText | None) -> dict[str, Any]:
    """A question as the chair sees it: in every state, in the session's language with the original."""
    d = question_dict(dataclasses.replace(q, state="approved"), chair or QuestionText(q.lang, q.text))
    d["state"] = q.state
    if chair is None:
        d["translating"] = True
    return d


def question_frame(q: Question, qt: QuestionText | None) -> protocol.Frame:
    return protocol.info("question", question_dict(q, qt))


def moderation_frame(q: Question, chair: QuestionText | None) -> protocol.Frame:
    return protocol.info("moderation", moderation_dict(q, chair))


def _seconds(ms: int) -> int:
    return max(1, -(-ms // 1000))


def _past(action: str) -> str:
    return {"approve": "approved", "reject": "rejected", "answering": "put on screen",
            "answered": "marked answered", "merge": "merged"}[action]
