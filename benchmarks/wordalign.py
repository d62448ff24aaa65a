"""Which reference words a transcript got right, by a minimal word alignment (the one WER counts).

``asr_replay.py --diff`` uses it to list the words streaming got wrong where the offline pass of the
same audio got them right: the gap to offline word by word, without the errors both make (a word the
model cannot hear, a reference that spells a word otherwise).
"""

from __future__ import annotations


def correct(ref: list[str], hyp: list[str]) -> list[bool]:
    """For each reference word, whether a minimal edit alignment matches it to an equal word of ``hyp``."""
    n, m = len(ref), len(hyp)
    cost = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    right = [False] * n
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            right[i - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i][j - 1] + 1:
            j -= 1
        else:
            i -= 1
    return right


def only_wrong_in(streamed: list[str], offline: list[str], ref: list[str]) -> tuple[list[str], int]:
    """The reference words ``streamed`` got wrong and ``offline`` got right, and how many offline alone
    got wrong (insertions are not counted on either side)."""
    by_stream, by_offline = correct(ref, streamed), correct(ref, offline)
    worse = [w for w, s, o in zip(ref, by_stream, by_offline) if o and not s]
    better = sum(1 for s, o in zip(by_stream, by_offline) if s and not o)
    return worse, better
