"""Re-translating a growing clause: fresh each time (what the server does) or continuing the last translation.

Translated text in progress re-translates the open clause's agreed words each time they grow
(``assistant/session/partials.py``). An alternative from the simultaneous-translation literature
forces the previous translation, less its last ``k`` words, as the decoder's prefix
(CTranslate2 ``target_prefix``), so shown words stay put; ``lcp`` forces only what the last two
translations agreed on. This runs the real zh→en Argos package (the only real pair here) over
Chinese sentences written for this benchmark, conference style, grown 3 characters at a time (about
what a 0.8 s step of Chinese speech adds). The last step is the final translation: always fresh.

Prints per policy: flicker (of the words shown in partials, the share the next partial or the final
no longer shows in the same place, as ``translated_latency.py`` counts it); how much of the final a
partial already showed (the share of the final's words it had in the same place, mean over partials:
a policy that stops the text in progress growing scores low here however little it flickers);
milliseconds per translation (one thread, beam 1, as the server runs); and one sentence's partials.

    .venv/bin/python benchmarks/retranslate.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import ctranslate2
import sentencepiece

ROOT = Path(__file__).resolve().parent.parent

SENTENCES = (
    "各位来宾，女士们，先生们，欢迎来到重庆参加今年的科技大会。",
    "我们今天要讨论的是人工智能在医学影像诊断中的应用。",
    "在过去的十年里，深度学习的方法已经改变了整个计算机视觉领域。",
    "这项研究是由我们实验室和清华大学的团队共同完成的。",
    "如果大家有问题的话，可以在报告结束以后通过手机提交。",
    "气候变化对农业生产的影响越来越明显，尤其是在发展中国家。",
    "下面我想请诺贝尔物理学奖获得者为我们做主旨演讲。",
    "我们的实验结果表明，新材料的导电性能比传统材料提高了三倍。",
    "由于时间关系，我只能简单地介绍一下我们的主要发现。",
    "这个模型需要大量的数据来训练，而且计算成本非常高。",
    "请大家注意，下午的分会场改在三楼的第二会议室。",
    "我们希望通过国际合作，让更多的国家能够使用这项技术。",
)
STEP_CHARS = 3
SPACE = "\u2581"  # SentencePiece's word start


def grow(sentence: str) -> list[str]:
    return [sentence[:i] for i in range(STEP_CHARS, len(sentence), STEP_CHARS)] + [sentence]


def words_of(tokens: list[str]) -> list[list[str]]:
    """SentencePiece tokens grouped into words (a word starts at a piece with the space marker)."""
    words: list[list[str]] = []
    for token in tokens:
        if token.startswith(SPACE) or not words:
            words.append([token])
        else:
            words[-1].append(token)
    return words


def text_of(word: list[str]) -> str:
    return "".join(word).replace(SPACE, "")


def run(policy: str, model: ctranslate2.Translator, sp: sentencepiece.SentencePieceProcessor,
        show: bool) -> tuple[float, float, float]:
    shown = changed = 0
    early: list[float] = []  # per partial: the share of the final's words it already showed in place
    took: list[float] = []
    for n, sentence in enumerate(SENTENCES):
        previous: list[list[list[str]]] = []  # the translations so far, as words of tokens
        steps = grow(sentence)
        for i, part in enumerate(steps):
            final = i == len(steps) - 1
            keep: list[list[str]] = []  # the previous translation's first words, its own tokens
            if previous and not final:
                last = previous[-1]
                if policy == "lcp" and len(previous) > 1:
                    before = previous[-2]
                    while len(keep) < min(len(last), len(before)) and last[len(keep)] == before[len(keep)]:
                        keep.append(last[len(keep)])
                elif policy.startswith("k="):
                    keep = last[: max(0, len(last) - int(policy[2:]))]
            started = time.perf_counter()
            out = model.translate_batch([sp.encode(part, out_type=str)],
                                        target_prefix=[[t for w in keep for t in w]] if keep else None,
                                        beam_size=1, max_decoding_length=256, length_penalty=0.2,
                                        replace_unknowns=True)
            took.append(time.perf_counter() - started)
            words = words_of(out[0].hypotheses[0])
            if previous:
                changed += sum(1 for j, w in enumerate(previous[-1]) if j >= len(words) or words[j] != w)
            if not final:
                shown += len(words)
            if show and n == 2:
                print(f"  {part} -> {' '.join(text_of(w) for w in words)}")
            previous.append(words)
        final_words = previous[-1]
        early += [sum(1 for j, w in enumerate(p) if j < len(final_words) and final_words[j] == w) / len(final_words)
                  for p in previous[:-1]]
    return changed / max(1, shown), statistics.mean(early), 1000 * statistics.median(took)


def main() -> int:
    package = next((ROOT / "data" / "argos-packages").glob("*zh_en*"), None)
    if package is None:
        sys.exit("the zh→en package is missing: run `make languages` first")
    sp = sentencepiece.SentencePieceProcessor(model_file=str(package / "sentencepiece.model"))
    model = ctranslate2.Translator(str(package / "model"), intra_threads=1, inter_threads=1)
    print(f"{len(SENTENCES)} sentences, {sum(len(grow(s)) for s in SENTENCES)} translations per policy, "
          f"{package.name}")
    for policy in ("fresh", "k=0", "k=2", "lcp"):
        print(f"{policy}:")
        flicker, early, ms = run(policy, model, sp, show=True)
        print(f"{policy}: flicker {flicker:.1%}; a partial shows {early:.1%} of the final's words in place "
              f"(mean); {ms:.0f} ms per translation (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
