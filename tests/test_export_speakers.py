"""Speaker turns in every export format: who spoke from which audio time on (the chair's switches)."""

from __future__ import annotations

import io
import json
import zipfile

import docx
import srt
import webvtt

from assistant.captions import Caption, Session, SpeakerTurn
from assistant.export import FORMATS, export_chunks, zip_chunks
from assistant.export.speakers import Speakers

SESSION = Session(id="panel", title="Panel: the future", source_lang="en", created_at_ms=1_780_477_200_000,
                  started_at_ms=1_780_477_200_000)
TURNS = [SpeakerTurn("panel", 0, "Grace Hopper"), SpeakerTurn("panel", 5_000, "Alan Turing"),
         SpeakerTurn("panel", 9_000, "Grace Hopper")]


def caption(seq: int, start_ms: int, text: str) -> Caption:
    return Caption(session="panel", lang="en", seq=seq, id=f"c{seq}", start_ms=start_ms, end_ms=start_ms + 1500,
                   text=text)


CAPTIONS = [caption(1, 0, "Welcome to the panel."), caption(2, 2000, "Let us begin with machines."),
            caption(3, 5200, "Machines can think, I believe."), caption(4, 9100, "Nanoseconds matter."),
            caption(5, 12000, "Here is a piece of wire.")]


def render(fmt: str, turns: list[SpeakerTurn] = TURNS) -> bytes:
    return b"".join(export_chunks(fmt, SESSION, iter(CAPTIONS), lang="en", speakers=turns))


def test_who_spoke_each_caption() -> None:
    speakers = Speakers(TURNS)
    assert [speakers.of(c) for c in CAPTIONS] == [("Grace Hopper", True), ("Grace Hopper", False),
                                                   ("Alan Turing", True), ("Grace Hopper", True),
                                                   ("Grace Hopper", False)]
    assert Speakers([SpeakerTurn("panel", 3000, "Ada")]).at(1000) is None and not Speakers()


def test_text_starts_each_turn_with_the_name() -> None:
    body = render("txt").decode().split("\n\n", 1)[1]
    assert body.startswith("Grace Hopper:\n[00:00:00] Welcome to the panel.\n[00:00:02] Let us begin")
    assert "\n\nAlan Turing:\n[00:00:05] Machines can think, I believe.\n\nGrace Hopper:\n[00:00:09] Nano" in body


def test_srt_names_the_speaker_on_the_first_cue_of_a_turn() -> None:
    cues = [s.content for s in srt.parse(render("srt").decode())]
    assert cues == ["Grace Hopper: Welcome to the panel.", "Let us begin with machines.",
                    "Alan Turing: Machines can think, I believe.", "Grace Hopper: Nanoseconds matter.",
                    "Here is a piece of wire."]


def test_webvtt_voice_spans_on_every_cue() -> None:
    vtt = webvtt.from_buffer(io.StringIO(render("vtt").decode()))
    assert [c.voice for c in vtt.captions] == ["Grace Hopper", "Grace Hopper", "Alan Turing", "Grace Hopper",
                                               "Grace Hopper"]
    assert vtt.captions[2].text == "Machines can think, I believe."


def test_json_carries_the_turns_and_each_captions_speaker() -> None:
    doc = json.loads(render("json"))
    assert doc["speakers"] == [{"audio_ms": 0, "speaker": "Grace Hopper"}, {"audio_ms": 5000, "speaker": "Alan Turing"},
                               {"audio_ms": 9000, "speaker": "Grace Hopper"}]
    assert [c["speaker"] for c in doc["captions"]] == ["Grace Hopper", "Grace Hopper", "Alan Turing",
                                                       "Grace Hopper", "Grace Hopper"]
    plain = json.loads(render("json", []))
    assert plain["speakers"] == [] and "speaker" not in plain["captions"][0]


def test_docx_heads_each_turn_with_the_name_in_bold() -> None:
    document = docx.Document(io.BytesIO(render("docx")))
    names = [p.text for p in document.paragraphs if p.runs and p.runs[0].bold and p.text.endswith(":")
             and not p.text.startswith("[")]
    assert names == ["Grace Hopper:", "Alan Turing:", "Grace Hopper:"]


def test_without_turns_nothing_changes_and_the_zip_carries_them() -> None:
    assert b"Grace" not in render("txt", []) and b"<v " not in render("vtt", [])
    data = b"".join(zip_chunks(SESSION, lambda lang: iter(CAPTIONS), ["en"], speakers=TURNS))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert len(z.namelist()) == len(FORMATS)
        txt = next(n for n in z.namelist() if n.endswith(".txt"))
        assert "Alan Turing:" in z.read(txt).decode()
