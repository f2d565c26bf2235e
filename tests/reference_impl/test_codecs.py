"""The log-mel codec's decoder: Griffin-Lim on magnitudes interpolated onto an overlapping hop keeps each
sound's onset where it was and adds none (at the latent's own, barely overlapping hop it buzzed)."""

import numpy as np
import pytest
import torch

from ccl_bench.features.onsets import audio_onsets
from ccl_bench.suites import load_suite, make_clip
from reference_impl.codecs import LogMelCodec, upsample_frames


def test_upsampled_frames_meet_the_latent_frames_and_ramp_in_decibels():
    power = torch.tensor([[1.0, 100.0, 100.0, 1e-6]])  # [F=1, T=4] at hop 250
    up = upsample_frames(power, 250, 50, 4 * 250)
    assert up.shape == (1, 21)
    torch.testing.assert_close(up[0, ::5][:4], power[0])  # frame k = 5 m is latent frame m
    torch.testing.assert_close(up[0, 1:5], torch.tensor([10 ** 0.4, 10 ** 0.8, 10 ** 1.2, 10 ** 1.6]))  # 4 dB steps
    torch.testing.assert_close(up[0, 15:], up[0, 15].expand(6))  # held beyond the last frame
    torch.testing.assert_close(upsample_frames(power, 250, 250, 1000), power[:, [0, 1, 2, 3, 3]])


@pytest.fixture(scope="module")
def clips():
    """The av-sync tiny test clips of the four families with discrete events (one each)."""
    spec = load_suite("av-sync")
    rend = spec.rendering("tiny")
    out = [make_clip(spec, "test", rend, i, 0, 5) for i in range(5)]
    return [c for c in out if c.metadata["label"] != "continuous-pitch"]


@pytest.mark.parametrize("hop,ok", [(50, True), (250, False)])
def test_decoded_sound_keeps_its_onsets(clips, hop, ok):
    codec = LogMelCodec(sample_rate=16000, synthesis_hop=hop)
    audio = torch.from_numpy(np.stack([c.audio[0] for c in clips]))
    decoded = codec.decode(codec.encode(audio), audio.shape[1])
    assert decoded.shape == audio.shape and decoded.abs().max() <= 1
    missed = spurious = 0
    errors = []
    for c, wave in zip(clips, decoded.numpy(), strict=True):
        truth = np.array([e["t"] for e in c.metadata["events"]])
        found = audio_onsets(wave)
        near = np.abs(found[:, None] - truth[None]).min(1) if len(found) else np.zeros(0)
        spurious += int((near > 0.03).sum())
        missed += int(sum(np.abs(found - t).min() > 0.03 if len(found) else True for t in truth))
        errors += list(near[near <= 0.03])
    if ok:  # every onset found within 10 ms, none added
        assert missed == 0 and spurious == 0 and max(errors) < 0.010, (missed, spurious, errors)
    else:  # the latent's own hop: the decoder the ceiling row scored 0.22 event-hit-cc with
        assert spurious >= len(clips), spurious
