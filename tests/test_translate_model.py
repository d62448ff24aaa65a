"""The real Argos zh→en package (OPUS-MT based), alone and pivoting into test-only packages.

The en→fr/de/es packages used for pivoting are test-only ciphers built by
tests/helpers/argos_builder.py: their output is gibberish, not a translation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assistant.errors import LanguageError
from assistant.translate.engine import LENGTH_MARGIN_TOKENS, CTranslate2ArgosTranslator, EngineSettings
from assistant.translate.packages import PackageRegistry
from assistant.translate.quality import is_degenerate
from assistant.translate.service import TranslationService
from assistant.translate.wrappers import CachedTranslator, PivotTranslator
from tests.helpers.argos_builder import cipher_reference, tiny_package_files, zh_en_package_dir

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> PackageRegistry:
    return PackageRegistry(zh_en_package_dir(tmp_path_factory))


@pytest.fixture(scope="module")
def engine(registry: PackageRegistry) -> CTranslate2ArgosTranslator:
    return CTranslate2ArgosTranslator(registry, EngineSettings(intra_threads=2))


@pytest.mark.parametrize(
    ("chinese", "content_words"),
    [
        ("今天我们讨论人工智能的未来。", {"future", "artificial", "intelligence"}),
        ("欢迎大家来到这次会议。", {"welcome", "meeting"}),
        ("我们的下一位演讲者来自北京大学。", {"speaker", "beijing", "university"}),
    ],
)
def test_chinese_in_sensible_english_out(
    engine: CTranslate2ArgosTranslator, chinese: str, content_words: set[str]
) -> None:
    (english,) = engine.translate_batch([chinese], "zh", "en")
    words = {w.strip(".,!?").lower() for w in english.split()}
    assert content_words <= words, english
    assert "\u2581" not in english and english == english.strip()


def test_batch_of_sentences_matches_single_calls(engine: CTranslate2ArgosTranslator) -> None:
    sentences = ["谢谢大家。", "请把手机调成静音。", "欢迎大家来到这次会议。"]
    assert engine.translate_batch(sentences, "zh", "en") == [
        engine.translate_batch([s], "zh", "en")[0] for s in sentences
    ]


def test_a_runaway_translation_stops_at_three_tokens_per_source_token(registry: PackageRegistry) -> None:
    # Laughter as Whisper writes it: the real model answers "Ha ha ha ..." until the length limit.
    laughter = "哈哈哈哈哈哈哈哈哈哈"
    unbounded = CTranslate2ArgosTranslator(registry, EngineSettings(max_length_factor=0))
    (looped,) = unbounded.translate_batch([laughter], "zh", "en")
    assert len(looped.split()) > 200, looped  # the model loops to max_decoding_length (256 tokens)
    (stopped,) = CTranslate2ArgosTranslator(registry).translate_batch([laughter], "zh", "en")
    assert stopped.lower().startswith("ha ha ha"), stopped
    # ten source tokens: at most 3 x 10 + LENGTH_MARGIN_TOKENS output tokens, one "ha" each
    assert len(stopped.split()) <= 3 * 10 + LENGTH_MARGIN_TOKENS, stopped
    assert is_degenerate(laughter, stopped)  # the source stands in for it, as for the full loop


async def test_laughter_is_translated_not_shown_as_its_source(registry: PackageRegistry) -> None:
    # The service gives the model three copies of a phrase said over and over: laughter reads as
    # laughter in English instead of standing in untranslated.
    service = TranslationService(CTranslate2ArgosTranslator(registry), workers=1, max_batch=4)
    laughing = await service.translate("哈哈哈哈哈哈哈哈哈哈", "zh", "en")
    assert not laughing.fallback and laughing.text.lower().startswith("ha ha ha"), laughing
    assert len(laughing.text.split()) <= 4, laughing
    answer = await service.translate("哈哈哈哈哈哈，这个问题很好。", "zh", "en")
    assert not answer.fallback and "good question" in answer.text.lower(), answer
    await service.close()


async def test_glossary_term_kept_verbatim_through_the_real_model(registry: PackageRegistry) -> None:
    service = TranslationService(
        CTranslate2ArgosTranslator(registry, EngineSettings(beam_size=1)), workers=1, max_batch=4
    )
    # Without the glossary, beam 1 respells this name ("PyTonch", measured).
    sentence = "张伟教授将介绍PyTorch和OpenAI的研究。"
    result = await service.translate(sentence, "zh", "en", glossary=("PyTorch", "OpenAI"))
    assert "PyTorch" in result.text and "OpenAI" in result.text and not result.fallback
    assert "professor" in result.text.lower()
    await service.close()


async def test_unknown_target_lists_the_reachable_ones(engine: CTranslate2ArgosTranslator) -> None:
    service = TranslationService(PivotTranslator(engine), workers=1, max_batch=1)
    with pytest.raises(LanguageError) as caught:
        await service.translate("你好", "zh", "sw")
    assert caught.value.available == ("en",)
    await service.close()


async def test_pivot_from_real_zh_en_into_test_only_packages(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    registry = PackageRegistry(tmp_path)
    for folder in zh_en_package_dir(tmp_path_factory).iterdir():
        (tmp_path / folder.name).symlink_to(folder)
    tiny = tiny_package_files(tmp_path_factory)
    for pair in [("en", "fr"), ("en", "de"), ("en", "es")]:
        registry.install_file(tiny[pair].path)
    engine = CTranslate2ArgosTranslator(registry, EngineSettings(beam_size=1))
    cached = CachedTranslator(engine)
    service = TranslationService(PivotTranslator(cached), workers=2, max_batch=8)
    assert service.available_targets("zh") == ("de", "en", "es", "fr")

    chinese = "欢迎大家来到这次会议。"
    results = await asyncio.gather(
        *(service.translate(chinese, "zh", t) for t in ("en", "fr", "de", "es"))
    )
    english = results[0].text
    assert "meeting" in english.lower()
    for result, target in zip(results[1:], ("fr", "de", "es")):
        expected = cipher_reference(registry.find("en", target).path, english, tiny[("en", target)].shift)
        assert result.text == expected and not result.fallback
    stats = cached.stats()
    assert stats.misses == 4  # zh→en once, then one en→xx each
    await service.close()
