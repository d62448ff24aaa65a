"""CaptureBuffer: the client's replay buffer for loss-free reconnects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.audio.capture_buffer import CaptureBuffer, Gap, Outgoing
from assistant.errors import ProtocolError

RATE = 1000  # small numbers keep the arithmetic readable: 100 ms = 100 samples


def samples(start: int, count: int) -> bytes:
    """``count`` mono s16 samples whose values are their own positions (mod 2**16)."""
    return b"".join(((start + i) % 65536).to_bytes(2, "little") for i in range(count))


def positions(frames: list[Outgoing]) -> list[int]:
    """Sample values sent; a gap reads as the server's silence (zeros)."""
    data = b"".join(bytes(2 * f.samples) if isinstance(f, Gap) else f for f in frames)
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def make(max_buffer_s: float = 10.0) -> CaptureBuffer:
    return CaptureBuffer(RATE, 2, max_buffer_s=max_buffer_s, frame_ms=100)


def test_frames_are_at_most_frame_ms_long_and_sent_once() -> None:
    buf = make()
    buf.append(samples(0, 250))
    frames = buf.frames_to_send()
    assert [len(f) for f in frames] == [200, 200, 100]  # type: ignore[arg-type]
    assert positions(frames) == list(range(250))
    assert buf.frames_to_send() == []
    buf.append(samples(250, 10))
    assert positions(buf.frames_to_send()) == list(range(250, 260))
    assert (buf.start, buf.end, buf.unsent) == (0, 260, 0)


def test_ack_frees_and_pending_from_resends_from_m() -> None:
    buf = make()
    buf.append(samples(0, 300))
    buf.frames_to_send()
    buf.ack(120)
    assert (buf.start, buf.buffered) == (120, 180)
    resent = buf.pending_from(170)
    assert positions(resent) == list(range(170, 300))
    assert buf.start == 170
    buf.append(samples(300, 5))
    assert positions(buf.frames_to_send()) == list(range(300, 305))


def test_acks_that_go_backwards_are_harmless() -> None:
    buf = make()
    buf.append(samples(0, 100))
    buf.ack(80)
    buf.ack(30)
    assert buf.start == 80
    assert positions(buf.pending_from(80)) == list(range(80, 100))


@pytest.mark.parametrize("bad", [-1, 101, True, "5"])
def test_impossible_positions_are_protocol_errors(bad: object) -> None:
    buf = make()
    buf.append(samples(0, 100))
    with pytest.raises(ProtocolError, match="received"):
        buf.ack(bad)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="received"):
        buf.pending_from(bad)  # type: ignore[arg-type]


def test_partial_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="whole number of 2-byte samples"):
        make().append(b"\x00\x01\x02")


def test_overflow_drops_the_oldest_and_counts_it() -> None:
    buf = make(max_buffer_s=0.5)  # 500 samples
    assert buf.append(samples(0, 400)) == 0
    assert buf.append(samples(400, 300)) == 200
    assert (buf.start, buf.end, buf.dropped) == (200, 700, 200)
    # The server last had sample 150: it is told of a 50-sample gap, then gets the real audio.
    resent = buf.pending_from(150)
    assert resent[0] == Gap(50)
    assert positions(resent) == [0] * 50 + list(range(200, 700))
    assert buf.gap_samples == 50


def test_unsent_audio_dropped_while_connected_becomes_a_gap() -> None:
    buf = make(max_buffer_s=0.2)
    buf.pending_from(0)
    buf.append(samples(0, 350))
    sent = buf.frames_to_send()
    assert sent[0] == Gap(150)
    assert positions(sent) == [0] * 150 + list(range(150, 350))
    assert (buf.dropped, buf.gap_samples) == (150, 150)


def test_a_long_outage_keeps_memory_bounded_and_time_exact() -> None:
    buf = CaptureBuffer(16000, 2, max_buffer_s=1.0)
    for _ in range(3000):  # five minutes of audio, 100 ms at a time, while disconnected
        buf.append(bytes(3200))
        assert buf.buffered <= 16000
    sent = buf.pending_from(0)
    assert sent[0] == Gap(buf.end - 16000)
    assert sum(f.samples if isinstance(f, Gap) else len(f) // 2 for f in sent) == buf.end == 3000 * 1600


def test_silence_for_an_old_server_shares_one_zero_frame() -> None:
    buf = CaptureBuffer(16000, 2, max_buffer_s=1.0)
    frames = buf.silence(90 * 1600 + 7)
    assert sum(len(f) for f in frames) == (90 * 1600 + 7) * 2 and not any(any(f) for f in frames)
    assert len({id(f) for f in frames[:90]}) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 260)),
            st.tuples(st.just("ack"), st.floats(0, 1)),
            st.tuples(st.just("drop"), st.floats(0, 1)),
            st.tuples(st.just("send"), st.just(0)),
        ),
        max_size=40,
    )
)
def test_a_server_that_loses_unacked_audio_still_gets_every_sample_once(ops: list[tuple[str, float]]) -> None:
    """Model: the server holds ``server`` samples; a drop loses some of what it had not acknowledged."""
    buf = make(max_buffer_s=100.0)
    server: list[int] = []
    acked = 0
    appended = 0
    connected = False
    for op, arg in ops:
        if op == "append":
            buf.append(samples(appended, int(arg)))
            appended += int(arg)
        if not connected:
            server_frames = buf.pending_from(len(server))
            acked = len(server)  # "ready M" promises the server keeps M
            connected = True
        else:
            server_frames = buf.frames_to_send() if op == "send" else []
        server.extend(positions(server_frames))
        if op == "ack":
            acked = acked + int((len(server) - acked) * arg)
            buf.ack(acked)
        elif op == "drop":
            keep = acked + int((len(server) - acked) * arg)
            del server[keep:]
            connected = False
    server.extend(positions(buf.pending_from(len(server))))
    assert server == [i % 65536 for i in range(appended)]
    assert buf.dropped == 0
