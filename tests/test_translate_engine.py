"""CTranslate2ArgosTranslator and its wrappers, on test-only cipher packages.

The cipher packages (tests/helpers/argos_builder.py) are valid Argos packages
whose output is a fixed scrambling of the input pieces — not a translation.
``cipher_reference`` recomputes that scrambling with sentencepiece alone.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from assistant.errors import LanguageError, TranslationPackageError
from assistant.translate.engine import (
    ARGOS_REQUIREMENT,
    CTranslate2ArgosTranslator,
    EngineSettings,
    _Bpe,
    _LoadedPair,
)
from assistant.translate.fake import FakeTranslator
from assistant.translate.packages import PackageRegistry, PairInfo
from assistant.translate.wrappers import CachedTranslator, PivotTranslator
from tests.helpers.argos_builder import TinyPackage, build_tiny_package, cipher_reference, tiny_package_files

SENTENCES = [
    "Welcome to the conference, everyone.",
    "Our next speaker comes from the university.",
    "Thank you.",
]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], TinyPackage]:
    return tiny_package_files(tmp_path_factory)


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, tiny: dict[tuple[str, str], TinyPackage]
) -> PackageRegistry:
    registry = PackageRegistry(tmp_path_factory.mktemp("engine-packages"))
    for package in tiny.values():
        registry.install_file(package.path)
    return registry


@pytest.fixture(scope="module")
def engine(registry: PackageRegistry) -> CTranslate2ArgosTranslator:
    return CTranslate2ArgosTranslator(registry, EngineSettings(beam_size=1))


def _expected(registry: PackageRegistry, tiny: dict[tuple[str, str], TinyPackage],
              text: str, source: str, target: str) -> str:
    return cipher_reference(registry.find(source, target).path, text, tiny[(source, target)].shift)


def test_batch_output_matches_the_cipher_computed_independently(
    engine: CTranslate2ArgosTranslator, registry: PackageRegistry,
    tiny: dict[tuple[str, str], TinyPackage],
) -> None:
    out = engine.translate_batch(SENTENCES, "en", "fr")
    assert out == [_expected(registry, tiny, s, "en", "fr") for s in SENTENCES]
    assert all(o and o != s for o, s in zip(out, SENTENCES))


def test_batched_equals_one_by_one_and_targets_differ(engine: CTranslate2ArgosTranslator) -> None:
    batched = engine.translate_batch(SENTENCES, "en", "de")
    single = [engine.translate_batch([s], "en", "de")[0] for s in SENTENCES]
    assert batched == single
    assert batched != engine.translate_batch(SENTENCES, "en", "es")


def test_empty_texts_skip_the_model_and_keep_positions(engine: CTranslate2ArgosTranslator) -> None:
    out = engine.translate_batch(["", "Thank you.", "   "], "en", "fr")
    assert out[0] == "" and out[2] == "" and out[1]
    assert engine.translate_batch([], "en", "fr") == []


def test_models_load_once_per_pair(registry: PackageRegistry) -> None:
    engine = CTranslate2ArgosTranslator(registry)
    assert engine.loaded_pairs() == ()
    engine.translate_batch(["Thank you."], "en", "fr")
    engine.load("en", "de")
    assert engine.loaded_pairs() == (("en", "de"), ("en", "fr"))
    engine.translate_batch(["Thank you."], "en", "de")
    assert engine.loaded_pairs() == (("en", "de"), ("en", "fr"))


class _LoadsWhenLetGo(CTranslate2ArgosTranslator):
    """The real engine, whose model loads wait until the test lets them go, counted per pair."""

    def __init__(self, registry: PackageRegistry) -> None:
        super().__init__(registry)
        self.let_go = threading.Event()
        self.loading = threading.Event()
        self.opened: list[tuple[str, str]] = []

    def _open(self, pair: PairInfo) -> _LoadedPair:
        self.opened.append((pair.source, pair.target))
        if (pair.source, pair.target) == ("en", "de"):
            self.loading.set()
            self.let_go.wait(60)
        return super()._open(pair)


def test_a_pair_loading_holds_back_only_its_own_translations(registry: PackageRegistry) -> None:
    engine = _LoadsWhenLetGo(registry)
    engine.load("en", "fr")
    german: list[list[str]] = []
    first, second = (threading.Thread(target=lambda: german.append(engine.translate_batch(["Thank you."], "en", "de")))
                     for _ in range(2))
    first.start()
    assert engine.loading.wait(60)
    second.start()  # the same pair, asked again while it loads
    # French is translated while German's model is still loading (before, one lock held every pair).
    french = engine.translate_batch(["Thank you."], "en", "fr")
    assert french and not engine.let_go.is_set() and not german
    engine.let_go.set()
    first.join(60)
    second.join(60)
    assert german == [engine.translate_batch(["Thank you."], "en", "de")] * 2
    assert engine.opened == [("en", "fr"), ("en", "de")]  # German loaded once for both


def test_a_reinstalled_package_replaces_the_loaded_model(
    tmp_path: Path, tiny: dict[tuple[str, str], TinyPackage]
) -> None:
    registry = PackageRegistry(tmp_path / "packages")
    registry.install_file(tiny[("en", "fr")].path)
    engine = CTranslate2ArgosTranslator(registry)
    before = engine.translate_batch(SENTENCES, "en", "fr")
    newer = build_tiny_package(tmp_path / "newer", "en", "fr", shift=3, version="0.1")
    pair = registry.install_file(newer.path)  # `assistant languages add` while the server runs
    assert engine.translate_batch(SENTENCES, "en", "fr") == [cipher_reference(pair.path, s, 3) for s in SENTENCES]
    assert engine.translate_batch(SENTENCES, "en", "fr") != before


def test_direct_targets_and_unknown_pair(engine: CTranslate2ArgosTranslator) -> None:
    assert engine.targets("en") == ("de", "es", "fr")
    assert engine.targets("fr") == ("en",)
    with pytest.raises(LanguageError) as caught:
        engine.translate_batch(["x"], "fr", "de")  # needs pivoting
    assert caught.value.available == ("en",)


def test_unloadable_model_is_a_package_error(
    tmp_path: Path, tiny: dict[tuple[str, str], TinyPackage]
) -> None:
    registry = PackageRegistry(tmp_path)
    pair = registry.install_file(tiny[("en", "fr")].path)
    (pair.model_path / "model.bin").write_bytes(b"garbage")
    with pytest.raises(TranslationPackageError, match="cannot be loaded"):
        CTranslate2ArgosTranslator(registry).translate_batch(["Thank you."], "en", "fr")


# subword-nmt merges in the format of an Argos package's bpe.model; enough to split and join words.
BPE_CODES = "#version: 0.2\nt h\nth e</w>\no u</w>\ny ou</w>\n"


def bpe_package(tmp_path: Path, tiny: dict[tuple[str, str], TinyPackage]) -> tuple[PackageRegistry, Path]:
    """The en→fr test package with a BPE tokenizer in place of its SentencePiece model."""
    registry = PackageRegistry(tmp_path)
    pair = registry.install_file(tiny[("en", "fr")].path)
    (pair.path / "sentencepiece.model").unlink()
    (pair.path / "bpe.model").write_text(BPE_CODES, encoding="utf-8")
    return registry, pair.path


def test_a_bpe_package_tokenizes_with_argostranslate_and_sacremoses(
    tmp_path: Path, tiny: dict[tuple[str, str], TinyPackage]
) -> None:
    registry, _ = bpe_package(tmp_path, tiny)
    pair = registry.find("en", "fr")
    tokenizer = _Bpe(pair)
    tokens = tokenizer.encode("Thank you, the hall is full.")
    assert "you" in tokens and "the" in tokens and "h@@" in tokens  # merged words, and a split one
    assert tokenizer.decode(tokens) == "Thank you, the hall is full."
    # The engine picks the BPE tokenizer for such a package (its cipher output is no translation).
    assert len(CTranslate2ArgosTranslator(registry).translate_batch(["Thank you."], "en", "fr")) == 1


def test_a_bpe_package_without_argostranslate_says_how_to_install_it(
    tmp_path: Path, tiny: dict[tuple[str, str], TinyPackage], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, _ = bpe_package(tmp_path, tiny)
    monkeypatch.setitem(sys.modules, "argostranslate.tokenizer", None)  # as if not installed
    with pytest.raises(TranslationPackageError, match=f"pip install --no-deps {ARGOS_REQUIREMENT}"):
        CTranslate2ArgosTranslator(registry).translate_batch(["Thank you."], "en", "fr")


def test_the_makefile_installs_the_argostranslate_the_error_names() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert f"ARGOS_PY := {ARGOS_REQUIREMENT}\n" in makefile


def test_pivot_runs_both_hops(
    engine: CTranslate2ArgosTranslator, registry: PackageRegistry,
    tiny: dict[tuple[str, str], TinyPackage],
) -> None:
    pivot = PivotTranslator(engine)
    assert pivot.targets("fr") == ("de", "en", "es")
    text = "Thank you very much."
    middle = _expected(registry, tiny, text, "fr", "en")
    assert pivot.translate_batch([text], "fr", "de") == [
        _expected(registry, tiny, middle, "en", "de")
    ]
    assert pivot.translate_batch([text], "fr", "fr") == [text]
    with pytest.raises(LanguageError) as caught:
        pivot.translate_batch([text], "zh", "de")
    assert caught.value.available == ()
    version = {(p.source, p.target): p.version for p in registry.installed()}
    assert pivot.edition("fr", "de") == f"fr-en {version['fr', 'en']} > en-de {version['en', 'de']}"
    assert CachedTranslator(engine).edition("fr", "en") == pivot.edition("fr", "en") == f"fr-en {version['fr', 'en']}"
    with pytest.raises(LanguageError):
        pivot.edition("zh", "de")


def test_cache_serves_repeats_and_only_sends_misses() -> None:
    fake = FakeTranslator({("en", "fr")})
    cached = CachedTranslator(fake, max_entries=2)
    assert cached.translate_batch(["a", "b", "a"], "en", "fr") == ["[fr] a", "[fr] b", "[fr] a"]
    assert cached.translate_batch(["b", "c"], "en", "fr") == ["[fr] b", "[fr] c"]
    assert [batch[2] for batch in fake.batches] == [("a", "b"), ("c",)]
    assert cached.stats().entries == 2  # "a" was evicted (least recently used)
    cached.translate_batch(["a"], "en", "fr")
    assert fake.batches[-1][2] == ("a",)
    stats = cached.stats()
    assert (stats.hits, stats.misses) == (1, 4)


def test_cache_does_not_answer_from_an_older_package_version() -> None:
    fake = FakeTranslator({("en", "fr")}, script={("en", "fr", "a"): "old a"})
    cached = CachedTranslator(fake)
    assert cached.translate_batch(["a"], "en", "fr") == ["old a"]
    fake.version, fake.script = "2", {}  # the en→fr package reinstalled in another version
    assert cached.translate_batch(["a"], "en", "fr") == ["[fr] a"]
    assert cached.translate_batch(["a"], "en", "fr") == ["[fr] a"] and len(fake.batches) == 2


def test_cache_translates_a_sentence_once_for_concurrent_threads() -> None:
    fake = FakeTranslator({("zh", "en")}, delay_s=0.2)
    cached = CachedTranslator(fake)
    results: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cached.translate_batch(["你好"], "zh", "en")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [["[en] 你好"]] * 4
    assert len(fake.batches) == 1


def test_cache_passes_errors_to_waiting_threads_and_keeps_nothing() -> None:
    fake = FakeTranslator({("en", "fr")})
    cached = CachedTranslator(fake)
    with pytest.raises(LanguageError):
        cached.translate_batch(["a"], "en", "xx")
    assert cached.stats().entries == 0
    assert cached.translate_batch(["a"], "en", "fr") == ["[fr] a"]
