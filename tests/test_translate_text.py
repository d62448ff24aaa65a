"""Pure tests: glossary placeholders and degenerate-translation detection (no models)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.translate.glossary import PLACEHOLDER_PREFIXES, Protected, protect, restore
from assistant.translate.quality import (
    KEPT_REPEATS,
    units,
    is_degenerate,
    longest_repeat,
    squeeze_repeats,
    weighted_length,
)


def test_protect_replaces_whole_words_any_case_and_restore_uses_glossary_spelling() -> None:
    protected = protect("we deploy kubernetes and PyTorch, not pytorchx", ("Kubernetes", "PyTorch"))
    assert "kubernetes" not in protected.text.lower()
    assert "pytorchx" in protected.text  # a longer word is not the term
    assert len(protected.replacements) == 2
    restored = restore(protected.text, protected)
    assert restored == "we deploy Kubernetes and PyTorch, not pytorchx"


def test_protect_matches_terms_between_chinese_characters() -> None:
    protected = protect("我们使用Kubernetes部署服务", ("Kubernetes",))
    assert protected.replacements and "Kubernetes" not in protected.text
    assert protected.text.startswith("我们使用") and protected.text.endswith("部署服务")


def test_longest_term_wins_over_its_prefix() -> None:
    protected = protect("New York Times reporters in New York", ("New York", "New York Times"))
    terms = [term for _, term in protected.replacements]
    assert sorted(terms) == ["New York", "New York Times"]


def test_restore_refuses_lost_or_duplicated_placeholders() -> None:
    protected = protect("Welcome to PyCon", ("PyCon",))
    placeholder = protected.replacements[0][0]
    assert restore("Bienvenue", protected) is None
    assert restore(f"{placeholder} {placeholder}", protected) is None
    assert restore(f"Bienvenue à {placeholder}!", protected) == "Bienvenue à PyCon!"


def test_placeholder_prefix_avoids_text_that_already_contains_it() -> None:
    first = PLACEHOLDER_PREFIXES[0]
    protected = protect(f"the {first} team uses Rust", ("Rust",))
    assert not protected.replacements[0][0].startswith(first)
    assert restore(protected.text, protected) == f"the {first} team uses Rust"


def test_empty_glossary_leaves_text_alone() -> None:
    assert protect("hello", ()) == Protected("hello")
    assert protect("hello", ("  ",)) == Protected("hello")


words = st.text(alphabet="abcdefghij ", min_size=0, max_size=40)
terms = st.lists(st.text(alphabet="KLMNOP", min_size=2, max_size=6), max_size=4)


@given(words, terms)
def test_protect_then_restore_is_identity_for_an_untouched_translation(
    text: str, glossary: list[str]
) -> None:
    sentence = " ".join([text, *glossary, text])
    protected = protect(sentence, tuple(glossary))
    assert restore(protected.text, protected) == sentence
    for _, term in protected.replacements:
        assert term in glossary


def test_degenerate_empty_or_no_letters() -> None:
    assert is_degenerate("Bonjour à tous.", "")
    assert is_degenerate("Bonjour à tous.", "  ")
    assert is_degenerate("Bonjour à tous.", "... !!")
    assert not is_degenerate("...", "")  # nothing to translate, nothing lost


def test_degenerate_loops() -> None:
    assert is_degenerate("今天我们讨论人工智能。", "Today we we we we discuss.")
    assert is_degenerate(
        "Merci.", "thank you very much thank you very much thank you very much"
    )
    assert not is_degenerate("欢迎大家来到这次会议。", "Welcome to this meeting.")
    # A repetition the speaker made is not a loop of the model.
    assert not is_degenerate(
        "Merci, merci, merci, merci !", "Thank you, thank you, thank you, thank you!"
    )


def test_degenerate_allows_one_more_copy_of_a_repetition_in_the_source() -> None:
    assert not is_degenerate("哈哈哈", "Ha ha ha ha!")  # the real zh→en package's answer
    assert is_degenerate("哈哈哈", "Ha ha ha ha ha!")
    assert is_degenerate("哈。", "Ha ha ha ha!")  # no repetition to echo: a loop


@pytest.mark.parametrize(
    ("said", "translated"),
    [
        ("哈哈哈哈哈哈哈哈哈哈", "哈哈哈"),  # laughter as Whisper writes it
        ("哈哈哈哈哈哈，这个问题很好。", "哈哈哈，这个问题很好。"),
        ("谢谢谢谢谢谢谢谢", "谢谢谢"),
        ("No, no, no, no, no. We cannot.", "No, no, no. We cannot."),
        ("thank you thank you thank you thank you!", "thank you thank you thank you!"),
        ("ha ha HA ha", "ha ha HA"),
        ("words words words words words", "words words words"),
        ("a b a b a b a b c", "a b a b a b c"),
        ("x 嗯嗯嗯嗯 y 嗯嗯嗯嗯嗯", "x 嗯嗯嗯 y 嗯嗯嗯"),
        # three copies or fewer, and text without repetition, stay as they are
        ("哈哈哈", "哈哈哈"),
        ("Merci, merci, merci !", "Merci, merci, merci !"),
        ("Today we discuss AI.", "Today we discuss AI."),
        ("。。。。。", "。。。。。"),
        ("", ""),
        ("e\u0301 \U0001f600\U0001f600\U0001f600\U0001f600", "e\u0301 \U0001f600\U0001f600\U0001f600\U0001f600"),
    ],
)
def test_squeeze_repeats(said: str, translated: str) -> None:
    assert squeeze_repeats(said) == translated


def test_degenerate_far_longer_than_source() -> None:
    source = "谢谢大家。"
    assert not is_degenerate(source, "Thank you, everyone.")
    assert is_degenerate(source, "Thank you. " + "Something else was said here. " * 3)


def test_weighted_length_counts_cjk_characters_more() -> None:
    assert weighted_length("谢谢") == 6
    assert weighted_length("ab cd") == 4


def test_longest_repeat() -> None:
    assert longest_repeat("a b c".split()) == (1, 1)
    assert longest_repeat("x a b a b a b y".split()) == (3, 2)


@given(st.lists(st.sampled_from(["哈", "ha", "Ha,", "no.", "谢谢", " ", "x"]), max_size=30).map("".join))
def test_squeezed_text_repeats_nothing_more_than_three_times(text: str) -> None:
    squeezed = squeeze_repeats(text)
    assert len(squeezed) <= len(text)
    assert squeeze_repeats(squeezed) == squeezed
    assert longest_repeat(units(squeezed))[0] <= KEPT_REPEATS
