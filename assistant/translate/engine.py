"""The Translator interface and its CTranslate2 implementation for Argos packages.

``CTranslate2ArgosTranslator`` does what argostranslate does inside, minus the
sentence splitter (captions arrive one sentence at a time): tokenize with the
package's tokenizer, run the package's CTranslate2 model (``model/``) with its
``target_prefix``, detokenize. It keeps one loaded ``ctranslate2.Translator``
per language pair, so a pair is loaded once and stays warm.

All ``translate_batch`` methods block: call them from a worker thread
(``TranslationService`` does).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import ctranslate2

from assistant.errors import LanguageError, TranslationPackageError
from assistant.translate.packages import BPE_FILE, SENTENCEPIECE_FILE, PackageRegistry, PairInfo

# Output tokens allowed beyond EngineSettings.max_length_factor's share: a one-word
# source may become a phrase ("谢谢" -> "Thank you.").
LENGTH_MARGIN_TOKENS: Final = 10

SENTENCEPIECE_SPACE = "\u2581"
# Not a declared dependency (it would pull torch); the Makefile installs it with --no-deps.
ARGOS_REQUIREMENT = "argostranslate==1.11.0"


class Translator(Protocol):
    """Translates batches of sentences between languages it can serve."""

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate each text (one sentence each); blocking, call off the event loop.

        Raises LanguageError when source→target cannot be served.
        """
        ...

    def targets(self, source: str) -> tuple[str, ...]:
        """Languages this translator can produce from source (sorted, source excluded)."""
        ...

    def edition(self, source: str, target: str) -> str:
        """What would translate source→target now ("zh-en 1.9"); it changes when a package is
        reinstalled in another version. Raises LanguageError when the pair cannot be served."""
        ...

    def load(self, source: str, target: str) -> None:
        """Have source→target ready now (its models in memory); otherwise its first batch loads them.
        Blocking, call off the event loop. Raises LanguageError when the pair cannot be served."""
        ...


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """How CTranslate2 runs. Threads are per loaded pair; keep them low next to Whisper."""

    device: str = "cpu"
    compute_type: str = "default"  # keep the package's own quantization (int8 for Argos)
    intra_threads: int = 1  # threads inside one translation batch
    inter_threads: int = 1  # batches one pair may run at the same time
    # 1 meets the 3-target latency budget on 2 cores (benchmarks/translate.py);
    # 2 is ~40% slower per sentence, 4 is what argostranslate uses.
    beam_size: int = 1
    max_decoding_length: int = 256  # tokens; stops runaway loops early
    # ... and sooner for short input: at most this many output tokens per input token, plus
    # LENGTH_MARGIN_TOKENS (Marian, which trains the OPUS models, stops at 3x as well). A model
    # that loops ("Ha ha ha ..." for 哈哈哈哈哈哈哈哈哈哈, 256 tokens, 2.6 s on one core) stops
    # at 40 tokens; the quality check rejects the loop either way, and every target language
    # waits less for it. 0: only max_decoding_length.
    max_length_factor: int = 3
    max_input_length: int = 512  # tokens; longer input is truncated by CTranslate2
    length_penalty: float = 0.2  # argostranslate's value


class _Tokenizer(Protocol):
    def encode(self, sentence: str) -> list[str]: ...

    def decode(self, tokens: list[str]) -> str: ...


class _SentencePiece:
    def __init__(self, model_file: str) -> None:
        import sentencepiece

        self._processor = sentencepiece.SentencePieceProcessor(model_file=model_file)

    def encode(self, sentence: str) -> list[str]:
        pieces: list[str] = self._processor.encode(sentence, out_type=str)
        return pieces

    def decode(self, tokens: list[str]) -> str:
        # Target pieces of OPUS-MT based packages are not all in the source
        # SentencePiece vocabulary, so word markers can survive decoding
        # (argostranslate replaces them the same way).
        text: str = self._processor.decode_pieces(tokens)
        return " ".join(text.replace(SENTENCEPIECE_SPACE, " ").split())


class _Bpe:
    """The BPE tokenizer of older Argos packages: argostranslate's own, with sacremoses."""

    def __init__(self, pair: PairInfo) -> None:
        needs = f"The {pair.source}→{pair.target} package uses a BPE tokenizer, which needs"
        try:
            from argostranslate.tokenizer import BPETokenizer
        except ImportError as exc:
            raise TranslationPackageError(
                f"{needs} argostranslate's tokenizer: run `pip install --no-deps {ARGOS_REQUIREMENT}` "
                "(--no-deps: its own dependencies pull torch, stanza and spacy, none of which this uses; "
                "with pipx: `pipx inject --pip-args=--no-deps assistant "
                f"{ARGOS_REQUIREMENT}`)."
            ) from exc
        try:
            import sacremoses  # noqa: F401  (BPETokenizer imports it lazily)
        except ImportError as exc:
            raise TranslationPackageError(
                f"{needs} the 'sacremoses' package, a dependency of assistant: reinstall assistant "
                "or run `pip install sacremoses`."
            ) from exc

        self._inner = BPETokenizer(pair.path / BPE_FILE, pair.source, pair.target)

    def encode(self, sentence: str) -> list[str]:
        return list(self._inner.encode(sentence))

    def decode(self, tokens: list[str]) -> str:
        return " ".join(str(self._inner.decode(tokens)).split())


@dataclass(frozen=True, slots=True)
class _LoadedPair:
    info: PairInfo  # the installed package it was loaded from
    model: ctranslate2.Translator
    tokenizer: _Tokenizer
    prefix: tuple[str, ...]


class CTranslate2ArgosTranslator:
    """Runs installed Argos packages directly; thread-safe; one warm model per pair."""

    def __init__(self, registry: PackageRegistry, settings: EngineSettings = EngineSettings()) -> None:
        self.registry = registry
        self.settings = settings
        self._loaded: dict[tuple[str, str], _LoadedPair] = {}
        self._load_lock = threading.Lock()  # guards the two dicts, never held while a model loads
        self._pair_locks: dict[tuple[str, str], threading.Lock] = {}  # one load at a time per pair

    def targets(self, source: str) -> tuple[str, ...]:
        """Direct pairs only; wrap in PivotTranslator to reach more."""
        return tuple(
            sorted({p.target for p in self.registry.installed() if p.source == source} - {source})
        )

    def edition(self, source: str, target: str) -> str:
        pair = self.registry.find(source, target)
        return f"{pair.source}-{pair.target} {pair.version}"

    def loaded_pairs(self) -> tuple[tuple[str, str], ...]:
        """The pairs whose model is in memory now."""
        with self._load_lock:
            return tuple(sorted(self._loaded))

    def load(self, source: str, target: str) -> None:
        """Load the pair's model now (otherwise the first translation does it)."""
        self._pair(source, target)

    def _pair(self, source: str, target: str) -> _LoadedPair:
        """The pair's warm model, loaded first if it is new or was reinstalled (another version)
        since. A load (a fraction of a second, more beside Whisper) holds back only its own pair:
        the other languages go on translating meanwhile, and several pairs load side by side."""
        key = (source, target)
        info = self.registry.find(source, target)
        with self._load_lock:
            loaded = self._loaded.get(key)
            if loaded is not None and loaded.info == info:
                return loaded
            pair_lock = self._pair_locks.setdefault(key, threading.Lock())
        with pair_lock:
            with self._load_lock:  # another thread may have loaded it while this one waited
                loaded = self._loaded.get(key)
            if loaded is None or loaded.info != info:
                loaded = self._open(info)
                with self._load_lock:
                    self._loaded[key] = loaded
            return loaded

    def _open(self, pair: PairInfo) -> _LoadedPair:
        tokenizer: _Tokenizer
        if (pair.path / SENTENCEPIECE_FILE).is_file():
            tokenizer = _SentencePiece(str(pair.path / SENTENCEPIECE_FILE))
        else:
            tokenizer = _Bpe(pair)
        s = self.settings
        try:
            model = ctranslate2.Translator(
                str(pair.model_path),
                device=s.device,
                compute_type=s.compute_type,
                inter_threads=s.inter_threads,
                intra_threads=s.intra_threads,
            )
        except (RuntimeError, ValueError) as exc:
            raise TranslationPackageError(
                f"The {pair.source}→{pair.target} model in {pair.model_path} cannot be loaded "
                f"({exc}). Reinstall the package with `assistant languages add FILE.argosmodel`."
            ) from exc
        prefix = tuple(pair.target_prefix.split()) if pair.target_prefix else ()
        return _LoadedPair(info=pair, model=model, tokenizer=tokenizer, prefix=prefix)

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """Translate texts source→target with the direct package, in one CTranslate2 batch."""
        if source == target:
            return list(texts)
        if target not in self.targets(source):
            raise LanguageError(
                f"No installed package translates from '{source}' to '{target}'. "
                f"Reachable directly: {', '.join(self.targets(source)) or 'none'}. "
                "Install one with `assistant languages add FILE.argosmodel`.",
                available=self.targets(source),
            )
        loaded = self._pair(source, target)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        results = [""] * len(texts)
        if not todo:
            return results
        tokens = [loaded.tokenizer.encode(texts[i].strip()) for i in todo]
        s = self.settings
        limit = s.max_decoding_length
        if s.max_length_factor:
            longest = max(len(t) for t in tokens)
            limit = min(limit, len(loaded.prefix) + s.max_length_factor * longest + LENGTH_MARGIN_TOKENS)
        outputs = loaded.model.translate_batch(
            tokens,
            target_prefix=[list(loaded.prefix)] * len(tokens) if loaded.prefix else None,
            beam_size=s.beam_size,
            max_decoding_length=limit,
            max_input_length=s.max_input_length,
            length_penalty=s.length_penalty,
            replace_unknowns=True,
        )
        for i, output in zip(todo, outputs):
            hypothesis = list(output.hypotheses[0])
            if loaded.prefix and tuple(hypothesis[: len(loaded.prefix)]) == loaded.prefix:
                hypothesis = hypothesis[len(loaded.prefix) :]
            results[i] = loaded.tokenizer.decode(hypothesis)
        return results
