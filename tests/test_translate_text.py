"""Pure tests: glossary placeholders and degenerate-translation detection (no models)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assistant.translate.glossary import PLACEHOLDER_PREFIXES, Protected, protect, restore
from assistant.translate.quality import is_degenerate, longest_repeat, weighted_length


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
