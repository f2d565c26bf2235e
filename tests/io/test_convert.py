import numpy as np
import pytest

from ccl_bench.io import convert_fps, fit_length, resample_audio, shift_audio, to_channels
from tests.conftest import onset_time


@pytest.mark.parametrize("sr_in,sr_out", [(16000, 48000), (48000, 16000), (44100, 16000), (16000, 22050)])
def test_resample_keeps_event_time_and_length(sr_in, sr_out):
    n = 2 * sr_in
    audio = np.zeros((1, n), np.float32)
    k = np.arange(round(0.05 * sr_in))
    audio[0, round(0.8 * sr_in) :][: len(k)] = 0.5 * np.sin(2 * np.pi * 1000 * k / sr_in)
    out = resample_audio(audio, sr_in, sr_out)
    assert out.shape == (1, int(np.ceil(n * sr_out / sr_in))) and out.dtype == np.float32
    assert abs(onset_time(out[0], sr_out) - 0.8) <= 0.001


def test_convert_fps_is_sample_and_hold():
    video = np.arange(50)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)  # frame i holds value i
    out = convert_fps(video, 25, 16)
    assert len(out) == 32
    # Output frame j at j/16 s shows source frame floor(j * 25 / 16): the frame on screen then.
    np.testing.assert_array_equal(out[:, 0, 0, 0], np.floor(np.arange(32) * 25 / 16 + 1e-9).astype(int))
    up = convert_fps(video, 25, 50)
    np.testing.assert_array_equal(up[:, 0, 0, 0], np.repeat(np.arange(50), 2))


def test_shift_fit_channels():
    a = np.arange(10, dtype=np.float32)[None]
    np.testing.assert_array_equal(shift_audio(a, 0.2, 10), [[0, 0, 0, 1, 2, 3, 4, 5, 6, 7]])
    np.testing.assert_array_equal(shift_audio(a, -0.2, 10), [[2, 3, 4, 5, 6, 7, 8, 9, 0, 0]])
    assert fit_length(a, 4).shape == (1, 4) and fit_length(a, 12)[0, -1] == 0
    st = to_channels(a, 2)
    assert st.shape == (2, 10)
    np.testing.assert_array_equal(to_channels(st, 1), a)
