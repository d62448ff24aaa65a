"""The benchmarks' word alignment: which reference words a transcript got right."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # as the benchmarks import it

from wordalign import correct, only_wrong_in  # noqa: E402


def test_each_reference_word_is_right_or_wrong_as_a_minimal_alignment_has_it() -> None:
    ref = "marque el número uno ahora".split()
    assert correct(ref, ref) == [True] * 5
    assert correct(ref, "marque en número o no ahora".split()) == [True, False, True, False, True]
    assert correct(ref, "número uno".split()) == [False, False, True, True, False]
    assert correct(ref, []) == [False] * 5
    assert correct([], "una palabra".split()) == []


def test_the_words_only_streaming_got_wrong_leave_out_what_offline_got_wrong_too() -> None:
    ref = "para que esta persona sea comunicada directamente".split()
    offline = "para que esta persona se ha comunicada directamente".split()  # "sea" wrong, an insertion
    streamed = "parque a esta persona sea comunicada directamente con".split()  # "para que" wrong
    assert only_wrong_in(streamed, offline, ref) == (["para", "que"], 1)
    assert only_wrong_in(offline, offline, ref) == ([], 0)
