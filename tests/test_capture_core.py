"""CaptureStream, the capture client's protocol core: no sockets, no clock, just frames in and out."""

from __future__ import annotations

import json

import pytest

from assistant.audio.capture_buffer import CaptureBuffer
from assistant.capture.core import Ack, CaptureStream, Ready
from assistant.errors import AuthError, ProtocolError

RATE = 1000  # small numbers: 100 ms = 100 samples


def pcm(samples: int, value: int = 1) -> bytes:
    return value.to_bytes(2, "little", signed=True) * samples


def make(max_buffer_s: float = 10.0) -> CaptureStream:
    return CaptureStream("cap-test", CaptureBuffer(RATE, 2, max_buffer_s=max_buffer_s, frame_ms=100))


def ready(received: int, *features: str) -> str:
    return json.dumps({"type": "ready", "received": received, "features": list(features)})


def texts(frames: list[str | bytes]) -> list[dict[str, object]]:
    return [json.loads(f) for f in frames if isinstance(f, str)]


def audio_samples(frames: list[str | bytes]) -> int:
    return sum(len(f) // 2 for f in frames if isinstance(f, bytes))


def test_start_then_resend_from_ready_then_live_audio() -> None:
    core = make()
    core.receive_audio(pcm(250))
    core.connection_made()
    assert texts(core.data_to_send()) == [{"type": "start", "sample_rate": 16000, "channels": 1, "format": "s16le",
                                          "stream": "cap-test"}]
    assert core.receive_text(ready(100, "gap")) == Ready(100, frozenset({"gap"}), 2)
    assert audio_samples(core.data_to_send()) == 150
    core.receive_audio(pcm(30))
    assert audio_samples(core.data_to_send()) == 30
    assert core.receive_text(json.dumps({"type": "ack", "received": 280})) == Ack(280)
    assert core.buffer.buffered == 0


def test_a_long_outage_goes_out_as_a_gap_frame_to_a_server_that_takes_them() -> None:
    core = make(max_buffer_s=0.5)
    core.receive_audio(pcm(100))
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(0, "gap"))
    assert audio_samples(core.data_to_send()) == 100
    core.connection_lost()
    assert core.receive_audio(pcm(900)) == 500  # the buffer keeps 500 samples
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(60, "gap", "later-feature"))
    frames = core.data_to_send()
    assert texts(frames) == [{"type": "gap", "samples": 440}]  # 60..499, which the buffer no longer holds
    assert isinstance(frames[0], str) and audio_samples(frames) == 500
    assert 60 + 440 + 500 == core.buffer.end


def test_an_older_server_gets_silence_of_the_same_length_instead() -> None:
    core = make(max_buffer_s=0.5)
    core.receive_audio(pcm(1000))
    core.connection_made()
    core.data_to_send()
    core.receive_text(json.dumps({"type": "ready", "received": 0}))  # no "features": no gap frames
    frames = core.data_to_send()
    assert texts(frames) == []
    assert audio_samples(frames) == 1000
    assert not any(b"".join(f for f in frames if isinstance(f, bytes))[: 500 * 2])


def test_a_gap_longer_than_a_frame_may_carry_goes_in_several() -> None:
    core = make(max_buffer_s=1.0)
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(0, "gap"))
    core.connection_lost()
    core.receive_audio(pcm(RATE * 3700 + 1000))  # an hour and a bit, while disconnected
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(0, "gap"))
    assert texts(core.data_to_send()) == [{"type": "gap", "samples": RATE * 3600},
                                          {"type": "gap", "samples": RATE * 100}]


def test_stop_follows_the_audio_and_finished_waits_for_the_last_ack() -> None:
    core = make()
    core.receive_audio(pcm(100))
    core.end_of_audio()
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(0, "gap"))
    frames = core.data_to_send()
    assert isinstance(frames[-1], str) and json.loads(frames[-1]) == {"type": "stop"}
    assert core.stop_sent and not core.finished
    core.receive_text(json.dumps({"type": "ack", "received": 100}))
    assert core.finished


def test_a_lost_final_ack_is_confirmed_by_stream_ended_with_every_sample() -> None:
    core = make()
    core.receive_audio(pcm(100))
    core.end_of_audio()
    core.connection_made()
    core.data_to_send()
    core.receive_text(ready(0, "gap"))
    core.data_to_send()  # audio and stop went out; the connection broke before the final ack came
    core.connection_lost()
    core.connection_made()
    core.data_to_send()
    ended = {"type": "error", "code": "stream_ended", "message": "capture stream 'cap-test' has ended", "received": 100}
    assert core.receive_text(json.dumps(ended)) is None
    assert core.finished and core.buffer.buffered == 0


def test_stream_ended_before_all_was_sent_is_fatal_and_says_what_was_lost() -> None:
    core = make()
    core.receive_audio(pcm(500))
    core.connection_made()
    core.data_to_send()
    ended = {"type": "error", "code": "stream_ended", "message": "ended by the chair", "received": 0}
    with pytest.raises(ProtocolError, match=r"the chair ended the session's audio.*0\.5 s of audio were not") as err:
        core.receive_text(json.dumps(ended))
    assert err.value.code == "stream_ended"


def test_replaced_by_another_capture_is_fatal_by_error_frame_or_by_close_code() -> None:
    core = make()
    core.connection_made()
    said = "another capture connection for this session took over; this one is closed"  # the server's words
    with pytest.raises(ProtocolError) as err:
        core.receive_text(json.dumps({"type": "error", "code": "replaced", "message": said}))
    assert err.value.code == "replaced" and str(err.value).count("took over") == 1  # said once, not twice
    assert str(err.value).startswith(said) and "stops so as not to take the session back" in str(err.value)
    with pytest.raises(ProtocolError, match="another capture connection took over.*code 4409") as err:
        core.connection_lost(4409)
    assert err.value.code == "replaced"
    core.connection_lost(1006)  # a broken connection is no error: the client reconnects


def test_error_frames_map_onto_the_exception_tree() -> None:
    core = make()
    core.connection_made()
    with pytest.raises(AuthError, match="--token"):
        core.receive_text(json.dumps({"type": "error", "code": "unauthorized", "message": "bad token"}))
    with pytest.raises(ProtocolError, match="the session has ended") as err:
        core.receive_text(json.dumps({"type": "error", "code": "session_closed", "message": "the session has ended"}))
    assert err.value.code == "session_closed"


@pytest.mark.parametrize("frame", [
    '{"type":"ack","received":0}',  # before ready
    '{"type":"ready","received":"5"}',
    '{"type":"ready","received":true}',
    '{"type":"ready","received":999999}',  # more than was ever captured
    "[1, 2]",
    "not json",
])
def test_a_confused_server_is_a_protocol_error(frame: str) -> None:
    core = make()
    core.connection_made()
    with pytest.raises(ProtocolError):
        core.receive_text(frame)


def test_unknown_frames_are_ignored_and_binary_frames_refused() -> None:
    core = make()
    core.connection_made()
    assert core.receive_text('{"type":"news","text":"a later server says more"}') is None
    core.receive_text(ready(0))
    with pytest.raises(ProtocolError, match="second 'ready'"):
        core.receive_text(ready(0))
    with pytest.raises(ProtocolError, match="binary"):
        core.receive_binary(b"\0")
