"""Cue timing and text cleaning for subtitle exports (pure, milliseconds)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assistant.captions import Caption
from assistant.export.cues import MIN_CUE_MS, clean_cue_text, clock, clock_ms, one_line, timed_cues


def cap(seq: int, start_ms: int, end_ms: int, text: str = "x") -> Caption:
    return Caption("s", "en", seq, f"c{seq}", start_ms, end_ms, text)


def spans(captions: list[Caption]) -> list[tuple[int, int]]:
    return [(cue.start_ms, cue.end_ms) for cue in timed_cues(captions)]


def test_well_formed_captions_keep_their_exact_times() -> None:
    captions = [cap(1, 0, 1234), cap(2, 1234, 2001), cap(3, 5007, 9999)]
    assert spans(captions) == [(0, 1234), (1234, 2001), (5007, 9999)]


def test_zero_length_caption_gets_minimum_duration_when_there_is_room() -> None:
    captions = [cap(1, 1000, 1000), cap(2, 1000 + MIN_CUE_MS + 500, 9000)]
    assert spans(captions)[0] == (1000, 1000 + MIN_CUE_MS)


def test_minimum_duration_stops_at_next_caption() -> None:
    captions = [cap(1, 1000, 900), cap(2, 1300, 2000)]
    assert spans(captions) == [(1000, 1300), (1300, 2000)]


def test_last_caption_with_no_duration_gets_minimum() -> None:
    assert spans([cap(1, 5000, 5000)]) == [(5000, 5000 + MIN_CUE_MS)]


def test_overlap_is_cut_at_next_start() -> None:
    captions = [cap(1, 0, 3000), cap(2, 2000, 4000)]
    assert spans(captions) == [(0, 2000), (2000, 4000)]


def test_same_start_pushes_next_cue_after_previous() -> None:
    captions = [cap(1, 1000, 2000), cap(2, 1000, 3000)]
    assert spans(captions) == [(1000, 2000), (2000, 3000)]


def test_negative_start_is_clamped_to_zero() -> None:
    assert spans([cap(1, -50, 400)]) == [(0, 400)]


@given(st.lists(st.tuples(st.integers(-1000, 100_000), st.integers(-2000, 20_000)), max_size=40))
def test_cues_never_overlap_and_never_have_zero_length(raw: list[tuple[int, int]]) -> None:
    captions = [cap(i + 1, start, start + length) for i, (start, length) in enumerate(raw)]
    result = spans(captions)
    assert len(result) == len(captions)
    assert all(start < end for start, end in result)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(result, result[1:]))


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 5000)), max_size=40))
def test_sorted_disjoint_captions_are_unchanged(raw: list[tuple[int, int]]) -> None:
    captions, t = [], 0
    for i, (gap, length) in enumerate(raw):
        captions.append(cap(i + 1, t + gap, t + gap + length))
        t += gap + length
    assert spans(captions) == [(c.start_ms, c.end_ms) for c in captions]


def test_clean_cue_text_removes_arrows_blank_lines_and_controls() -> None:
    assert clean_cue_text("a --> b ---> c\n\n\n  d  \r\n\x07e") == "a -> b -> c\nd\ne"


@given(st.text())
def test_clean_cue_text_never_leaves_arrow_or_blank_line(text: str) -> None:
    cleaned = clean_cue_text(text)
    assert "-->" not in cleaned
    assert "" not in cleaned.split("\n") or cleaned == ""
    assert cleaned == cleaned.strip()


def test_one_line_collapses_whitespace() -> None:
    assert one_line(" a\n\nb\t c ") == "a b c"


def test_clock_formats() -> None:
    assert clock(3_723_004) == "01:02:03"
    assert clock_ms(3_723_004) == "01:02:03.004"
    assert clock_ms(3_723_004, ",") == "01:02:03,004"
    assert clock_ms(100 * 3_600_000 + 1) == "100:00:00.001"
