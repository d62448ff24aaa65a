"""The recogniser's preallocated audio window and the heap keeper of the model thread."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.asr.heap import HeapKeeper, configure_heap
from assistant.asr.window import AudioWindow


def test_window_keeps_absolute_samples_across_appends_and_trims() -> None:
    window = AudioWindow(capacity=8)
    stream = np.arange(100, dtype=np.float32)
    for i in range(0, 100, 3):
        window.append(stream[i : i + 3], in_use=False)
        window.drop_before(max(0, window.end - 5))
        assert np.array_equal(window.view(window.end), stream[window.start : window.end])
    assert (window.start, window.end) == (95, 100)
    assert window.capacity == 16  # never grew past twice what it held
    with pytest.raises(ValueError, match="95..100"):
        window.view(101)


def test_a_view_handed_to_a_pass_survives_appends_while_in_use() -> None:
    window = AudioWindow(capacity=8)
    window.append(np.arange(6, dtype=np.float32), in_use=False)
    window.drop_before(4)
    view = window.view(6)
    assert not view.flags.writeable
    for k in range(10):  # the array runs out of room and moves several times
        window.append(np.full(3, 100 + k, dtype=np.float32), in_use=True)
    assert view.tolist() == [4.0, 5.0]
    assert window.view(window.end)[:2].tolist() == [4.0, 5.0]


def test_a_long_backlog_grows_the_window_and_it_shrinks_again() -> None:
    window = AudioWindow(capacity=16)
    window.append(np.zeros(100, dtype=np.float32), in_use=False)
    assert window.capacity >= 200
    for k in range(30):  # caught up: 25 samples live at a time
        window.drop_before(window.end - 5)
        window.append(np.full(20, k, dtype=np.float32), in_use=False)
    assert window.capacity == 64
    assert window.view(window.end).tolist() == [28.0] * 5 + [29.0] * 20


def test_heap_keeper_configures_glibc_and_trims_after_passes() -> None:
    assert configure_heap()
    keeper = HeapKeeper()
    keeper.after_pass()
    keeper.after_pass()
    assert keeper.trims == 2
