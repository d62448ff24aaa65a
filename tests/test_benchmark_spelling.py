"""The benchmarks' number spelling: a number and its words score the same, in every corpus language."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # as the benchmarks import it

from spelling import english_number, russian_number, spell_numbers  # noqa: E402


@pytest.mark.parametrize("n, words", [
    (0, "ноль"), (7, "семь"), (20, "двадцать"), (21, "двадцать один"), (80, "восемьдесят"),
    (200, "двести"), (305, "триста пять"), (999, "девятьсот девяносто девять"), (1000, "тысяча"),
    (1001, "тысяча один"), (2000, "две тысячи"), (5000, "пять тысяч"), (11000, "одиннадцать тысяч"),
    (21000, "двадцать одна тысяча"), (22000, "двадцать две тысячи"), (1984, "тысяча девятьсот восемьдесят четыре"),
    (112000, "сто двенадцать тысяч"), (1_000_000, "1000000")])
def test_russian_numbers_read_as_a_reader_says_them(n: int, words: str) -> None:
    assert russian_number(n) == words.split()


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (13, "thirteen"), (40, "forty"), (42, "forty two"), (100, "one hundred"),
    (911, "nine hundred eleven"), (2024, "two thousand twenty four"), (1_000_000, "1000000")])
def test_english_numbers_in_full(n: int, words: str) -> None:
    assert english_number(n) == words.split()


def test_digits_become_the_words_of_their_language_and_the_rest_is_left() -> None:
    assert spell_numbers(["press", "3", "or", "12"], "en") == ["press", "three", "or", "twelve"]
    assert spell_numbers(["marque", "le", "17"], "fr") == ["marque", "le", "dix", "sept"]
    assert spell_numbers(["quatre-vingts"], "fr") == ["quatre", "vingts"]  # as the reference splits them
    assert spell_numbers(["pulse", "4", "o", "25"], "es") == ["pulse", "cuatro", "o", "25"]  # past 20: left
    assert spell_numbers(["premi", "9"], "it") == ["premi", "nove"]
    assert spell_numbers(["нажмите", "200"], "ru") == ["нажмите", "двести"]
    assert spell_numbers(["7"], "de") == ["7"]  # a language with no table: as written
