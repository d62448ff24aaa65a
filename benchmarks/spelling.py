"""Numbers spelled alike when scoring (reference and hypothesis): "3", "three" and "3" read as "три" score the same.

English and Russian numbers are spelled in full (Russian cardinals in the nominative, as a reader says a number
written in digits); Spanish, French and Italian 0-20; French compounds ("dix-sept") are split into words.
"""

from __future__ import annotations

from collections.abc import Callable

_EN_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
           "sixteen seventeen eighteen nineteen".split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SMALL: dict[str, list[str]] = {
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis "
          "diecisiete dieciocho diecinueve veinte".split(),
    "fr": "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
          "dix-sept dix-huit dix-neuf vingt".split(),
    "it": "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici quindici "
          "sedici diciassette diciotto diciannove venti".split(),
    "ru": "ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
          "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать двадцать".split(),
}


_RU_ONES = SMALL["ru"][:20]
_RU_TENS = "_ _ двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()
_RU_HUNDREDS = "_ сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split()


def russian_number(n: int) -> list[str]:
    """A cardinal in the nominative, as a reader says a number written in digits ("200" -> "двести")."""
    if n < 20:
        return [_RU_ONES[n]]
    if n < 100:
        return [_RU_TENS[n // 10]] + ([_RU_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_RU_HUNDREDS[n // 100]] + (russian_number(n % 100) if n % 100 else [])
    if n < 1_000_000:
        k, rest = divmod(n, 1000)
        words = russian_number(k)
        last = 0 if 11 <= k % 100 <= 14 else k % 10  # "одиннадцать тысяч", "двадцать одна тысяча"
        if last in (1, 2):
            words[-1] = "одна" if last == 1 else "две"
        thousand = "тысяча" if last == 1 else "тысячи" if last in (2, 3, 4) else "тысяч"
        words = [] if k == 1 else words
        return words + [thousand] + (russian_number(rest) if rest else [])
    return [str(n)]


def english_number(n: int) -> list[str]:
    if n < 20:
        return [_EN_ONES[n]]
    if n < 100:
        return [_EN_TENS[n // 10]] + ([_EN_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_EN_ONES[n // 100], "hundred"] + (english_number(n % 100) if n % 100 else [])
    if n < 1_000_000:
        return english_number(n // 1000) + ["thousand"] + (english_number(n % 1000) if n % 1000 else [])
    return [str(n)]


# Languages whose numbers are spelled in full (the others: 0-20 only, SMALL).
FULL: dict[str, Callable[[int], list[str]]] = {"en": english_number, "ru": russian_number}


def spell_numbers(words: list[str], lang: str) -> list[str]:
    out: list[str] = []
    for w in words:
        if w.isdigit():
            n = int(w)
            if lang in FULL:
                out.extend(FULL[lang](n))
                continue
            small = SMALL.get(lang, [])
            if n < len(small):
                out.extend(small[n].split("-"))
                continue
        out.extend(w.split("-") if lang == "fr" else [w])
    return out
