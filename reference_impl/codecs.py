"""Latent codecs: one interface to turn clips into the latents the streams model, and back.

The fixed codecs here serve the av-sync `tiny` rendering (no learned weights):
- `PixelCodec`: video uint8 `[B, T, H, W, 3]` -> `[B, 3 p^2, T, H/p, W/p]` in [-1, 1] (space-to-depth).
- `LogMelCodec`: audio `[B, N]` -> normalised log-mel `[B, n_mels, N / hop]`; back with Griffin-Lim.

Plugging in a learned codec: implement the same methods and rates. Wan2.1's video VAE gives 16
channels at 4x temporal (causal first frame) and 8x8 spatial compression (set `video_in_dim=16`,
`video_temporal_compression=4`, `video_causal_first_frame=True`); an audio VAE such as MMAudio's
(16 kHz: 20 channels at 31.25 Hz) or Stable Audio's sets `audio_in_dim` and `audio_latent_rate`.
Those rates place every token in seconds, which is what TARP's aligned RoPE and partitions use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass(frozen=True)
class PixelCodec:
    patch: int = 2  # space-to-depth factor
    fps: float = 16.0

    @property
    def channels(self) -> int:
        return 3 * self.patch**2

    @property
    def temporal_compression(self) -> int:
        return 1

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """uint8 `[B, T, H, W, 3]` -> float `[B, 3 p^2, T, H / p, W / p]` in [-1, 1]."""
        b, t, h, w, _ = video.shape
        p = self.patch
        x = video.float() / 127.5 - 1.0
        x = x.view(b, t, h // p, p, w // p, p, 3).permute(0, 6, 3, 5, 1, 2, 4)  # b, c, p, p, t, h', w'
        return x.reshape(b, 3 * p * p, t, h // p, w // p)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """`[B, 3 p^2, T, H/p, W/p]` -> uint8 `[B, T, H, W, 3]` (clipped to [-1, 1] first)."""
        b, _, t, hp, wp = latent.shape
        p = self.patch
        x = latent.float().clamp(-1, 1).view(b, 3, p, p, t, hp, wp).permute(0, 4, 5, 2, 6, 3, 1)
        return ((x.reshape(b, t, hp * p, wp * p, 3) + 1.0) * 127.5).round().to(torch.uint8)

    def to_dict(self) -> dict:
        return {"kind": "pixel", **asdict(self)}


@dataclass(frozen=True)
class LogMelCodec:
    sample_rate: int = 16000
    n_fft: int = 256  # a 16 ms window: Griffin-Lim keeps onsets within a few ms (1024 smeared them by up to 100 ms)
    hop: int = 250  # 64 latent frames per second at 16 kHz
    n_mels: int = 64
    f_min: float = 40.0
    f_max: float = 8000.0
    log_offset: float = 1e-5
    # ln(mel + 1e-5) of the av-sync clips spans about [-11.5, 3.5]; this maps it to about [-1.4, 1.6].
    norm_mean: float = -4.5
    norm_scale: float = 5.0
    griffin_lim_iters: int = 64
    # Decoder only (the latent is unchanged): Griffin-Lim runs on the magnitudes interpolated onto this hop.
    # At the latent's own hop (250 of a 256-sample window) the frames barely overlap: the phase has nothing
    # to agree with, and the inverse STFT divides by a window sum near zero at every frame edge, so the
    # decoded sound buzzed at 64 Hz (166 spurious onsets on 32 av-sync tiny clips, 0 in the clips).
    synthesis_hop: int = 50  # 80% overlap

    @property
    def latent_rate(self) -> float:
        return self.sample_rate / self.hop

    @cached_property
    def _mel(self):
        import torchaudio

        return torchaudio.transforms.MelSpectrogram(
            sample_rate=self.sample_rate, n_fft=self.n_fft, hop_length=self.hop, n_mels=self.n_mels,
            f_min=self.f_min, f_max=self.f_max, power=2.0, center=True, norm="slaney", mel_scale="slaney")

    def frames(self, num_samples: int) -> int:
        return num_samples // self.hop

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """float `[B, N]` at `sample_rate` -> `[B, n_mels, N // hop]`; frame m is centred at `m hop / sr` s."""
        mel = self._mel.to(audio.device)(audio.float())[..., : self.frames(audio.shape[-1])]
        return (torch.log(mel + self.log_offset) - self.norm_mean) / self.norm_scale

    def decode(self, latent: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """`[B, n_mels, T]` -> float `[B, T * hop]` (or `num_samples`): mel inverted to power by the
        filterbank's pseudo-inverse (clipped at 0), interpolated onto `synthesis_hop` (`upsample_frames`),
        phase by Griffin-Lim there."""
        import torchaudio

        n = num_samples or latent.shape[-1] * self.hop
        mel = torch.exp(latent.float() * self.norm_scale + self.norm_mean) - self.log_offset
        fb = self._mel.mel_scale.fb.to(latent.device)  # [n_freq, n_mels]
        power = (torch.linalg.pinv(fb.T) @ mel.clamp(min=0)).clamp(min=0)  # [B, n_freq, T]
        power = upsample_frames(power, self.hop, self.synthesis_hop, n)
        gl = torchaudio.transforms.GriffinLim(n_fft=self.n_fft, hop_length=self.synthesis_hop, power=2.0,
                                              n_iter=self.griffin_lim_iters, rand_init=False, length=n).to(latent.device)
        return gl(power).clamp(-1, 1)

    def to_dict(self) -> dict:
        return {"kind": "log-mel", **asdict(self)}


def upsample_frames(power: torch.Tensor, hop: int, new_hop: int, num_samples: int) -> torch.Tensor:
    """Power spectrogram `[..., F, T]` with frame m centred at sample `m hop` -> `[..., F, K]` with frame k
    centred at `k new_hop`, K = ceil(num_samples / new_hop) + 1: linear in log power (the latent is a
    log-mel, so an onset keeps its dB ramp) between the two nearest frames, held beyond the last."""
    t = power.shape[-1]
    pos = torch.arange(-(-num_samples // new_hop) + 1, device=power.device, dtype=torch.float64) * (new_hop / hop)
    i0 = pos.floor().long().clamp(0, t - 1)
    i1 = (i0 + 1).clamp(max=t - 1)
    w = (pos - i0).clamp(0, 1).to(power.dtype)
    tiny = torch.finfo(power.dtype).tiny
    log_p = torch.log(power.clamp(min=tiny))
    return torch.exp((1 - w) * log_p[..., i0] + w * log_p[..., i1])


def codec_overrides(video: PixelCodec, audio: LogMelCodec) -> dict:
    """Model config fields the codecs fix (channels and rates)."""
    return dict(video_in_dim=video.channels, video_fps=video.fps, video_temporal_compression=1,
                video_causal_first_frame=False, audio_in_dim=audio.n_mels, audio_latent_rate=audio.latent_rate)


def np_to_torch_video(video: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(video))
