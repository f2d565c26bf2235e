"""SyncNet (Chung & Zisserman 2016; joonson/syncnet_python) for Sync-C and Sync-D (also printed LSE-C and
LSE-D), in the layout of `syncnet_v2.model` (a state dict of the `S` network, keys unprefixed):
- `netcnnaud.{0..20}` 2-D convolutions over an MFCC window `[1, 13, 20]`, `netfcaud.{0..3}` -> 1024-d;
- `netcnnlip.{0..20}` 3-D convolutions over 5 frames of a 224 x 224 face crop `[3, 5, 224, 224]`,
  `netfclip.{0..3}` -> 1024-d.
The module indices are those of the published `nn.Sequential`s (pooling and ReLU layers hold no weights
but keep their places), so the official file loads unchanged.

Protocol `syncnet-python` (run_pipeline.py, then run_syncnet.py / Wav2Lip's LSE scripts):
- video at 25 fps (nearest source frame, as ffmpeg's `-r 25`), audio mono 16 kHz as 16-bit PCM values;
- faces: every frame's detections joined greedily into tracks (a detection joins the track being built
  when it overlaps that track's last box with IoU > 0.5 at most 25 frames later; see `face_tracks`); a
  track is kept when it holds more than 100 detections (`min_track`) and its mean box side exceeds 100 px
  (`min_face_size`); gaps are filled by linear interpolation of the box corners;
- crop: box half-size `s = max(w, h) / 2` and centre, each median-filtered over 13 frames; the frame is
  padded by `int(s (1 + 2 * 0.4))` px of value 110, the crop spans `[cy - s, cy + s (1 + 2 * 0.4)]` by
  `cx -+ s (1 + 0.4)` (crop scale 0.4: more below the face centre, where the mouth is), resized to
  224 x 224 (OpenCV bilinear), fed as BGR colour values 0-255 (the published network reads OpenCV frames);
- audio of a track: its own frames' span; MFCC (python_speech_features' defaults: 25 ms rectangular frames
  every 10 ms, zero-padded last frame, pre-emphasis 0.97, 512-point power spectrum / 512, 26 triangular mel
  filters 0-8 kHz, log, orthonormal DCT-II, 13 coefficients, sine lifter 22, c0 replaced by the log frame
  energy): 100 MFCC frames per second, 4 per video frame;
- windows: video frames `[i, i + 5)` against MFCC frames `[4 i, 4 i + 20)` for i < min(frames, samples / 640) - 5;
- offset search: for each window the Euclidean distance (torch's `pairwise_distance`, eps 1e-6) of its
  video embedding to the audio embeddings of windows i - 15 ... i + 15 (zero vectors past the ends); the
  mean over windows per shift `d[31]`; Sync-D = min d (LSE-D), Sync-C = median d - min d (LSE-C), offset =
  15 - argmin d frames;
- a clip's value: the mean over its tracks (syncnet_python scores each track on its own; averaging them is
  ccl-bench's rule); a clip without a kept track is unavailable with the reason.

Faces are found by S3FD (`ccl_bench.features.s3fd`, syncnet_python's own detector and weights file
`sfd_face.pth`) on each 25 fps frame at scale 0.25, boxes with a face score above 0.9.
Deviations from syncnet_python, stated in the protocol record:
- no shot detection (PySceneDetect): a generated clip is taken as one shot;
- the 25 fps frames and the crops are not written to lossy video and JPEG files and read back (that
  round trip is not replayed);
- the audio of a track is cut at exact sample indices (the pipeline cuts with ffmpeg at millisecond times)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import BackboneAnalysis, mono_at

FPS = 25.0
RATE = 16000
CROP = 224
WINDOW_FRAMES = 5  # video frames per window (0.2 s)
MFCC_PER_FRAME = 4  # 100 MFCC frames per second at 25 fps
MFCC_WINDOW = 20
SAMPLES_PER_FRAME = 640  # 16000 / 25
VSHIFT = 15  # frames searched either way
MIN_TRACK = 100  # a track needs more detections than this
MIN_FACE = 100  # px: mean box side a track needs
FAILED_DET = 25  # frames a track may go without a detection
IOU_JOIN = 0.5
SMOOTH = 13  # median-filter length of the crop boxes
CROP_SCALE = 0.4
PAD_VALUE = 110
EMBED = 1024
# python_speech_features.mfcc defaults
MFCC_WIN, MFCC_HOP, MFCC_FFT, MFCC_FILTERS, MFCC_COEFFS, PREEMPH, LIFTER = 400, 160, 512, 26, 13, 0.97, 22


# ---- the network -----------------------------------------------------------------------------------

def _conv_stage(conv: nn.Module, bn: nn.Module, pool: nn.Module | None = None) -> list:
    """conv, BatchNorm, ReLU[, pool]: the published blocks (pools hold a place in the Sequential's indices)."""
    return [conv, bn, nn.ReLU(inplace=True)] + ([pool] if pool is not None else [])


class SyncNet(nn.Module):
    """The `S` network of syncnet_python. `lip` (conv1, conv2-5, conv6 widths) and `aud` (its six conv widths)
    may be narrowed in tests of the same code; the published file has the defaults and a 1024-d embedding."""

    def __init__(self, lip: tuple[int, int, int] = (96, 256, 512), aud: tuple[int, ...] = (64, 192, 384, 256, 256, 512),
                 embed: int = EMBED):
        super().__init__()
        w1, w2, w3 = lip
        a1, a2, a3, a4, a5, a6 = aud
        a = nn.Conv2d
        self.netcnnaud = nn.Sequential(
            *_conv_stage(a(1, a1, 3, 1, 1), nn.BatchNorm2d(a1), nn.MaxPool2d(1, 1)),
            *_conv_stage(a(a1, a2, 3, 1, 1), nn.BatchNorm2d(a2), nn.MaxPool2d(3, (1, 2))),
            *_conv_stage(a(a2, a3, 3, padding=1), nn.BatchNorm2d(a3)),
            *_conv_stage(a(a3, a4, 3, padding=1), nn.BatchNorm2d(a4)),
            *_conv_stage(a(a4, a5, 3, padding=1), nn.BatchNorm2d(a5), nn.MaxPool2d(3, 2)),
            *_conv_stage(a(a5, a6, (5, 4)), nn.BatchNorm2d(a6)),
        )
        v = nn.Conv3d
        self.netcnnlip = nn.Sequential(
            *_conv_stage(v(3, w1, (5, 7, 7), (1, 2, 2)), nn.BatchNorm3d(w1), nn.MaxPool3d((1, 3, 3), (1, 2, 2))),
            *_conv_stage(v(w1, w2, (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.BatchNorm3d(w2),
                         nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))),
            *_conv_stage(v(w2, w2, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(w2)),
            *_conv_stage(v(w2, w2, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(w2)),
            *_conv_stage(v(w2, w2, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(w2), nn.MaxPool3d((1, 3, 3), (1, 2, 2))),
            *_conv_stage(v(w2, w3, (1, 6, 6)), nn.BatchNorm3d(w3)),
        )
        self.netfcaud = nn.Sequential(nn.Linear(a6, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed))
        self.netfclip = nn.Sequential(nn.Linear(w3, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed))

    def forward_aud(self, mfcc: torch.Tensor) -> torch.Tensor:
        """`[B, 1, 13, 20]` MFCC windows -> `[B, 1024]`."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, frames: torch.Tensor) -> torch.Tensor:
        """`[B, 3, 5, 224, 224]` BGR 0-255 crops -> `[B, 1024]`."""
        return self.netfclip(self.netcnnlip(frames).flatten(1))


# ---- audio: MFCC -----------------------------------------------------------------------------------

def pcm16(audio: np.ndarray) -> np.ndarray:
    """float audio in [-1, 1] -> the int16 values a 16-bit WAV holds (as float64)."""
    return np.clip(np.round(np.asarray(audio, np.float64) * 32768.0), -32768, 32767)


def _hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(rate: int = RATE, n_fft: int = MFCC_FFT, filters: int = MFCC_FILTERS) -> np.ndarray:
    """`[filters, n_fft/2 + 1]` triangles on FFT bins `floor((n_fft + 1) f / rate)` of mel-spaced edges 0 - rate/2."""
    edges = np.floor((n_fft + 1) * _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(rate / 2), filters + 2)) / rate)
    fb = np.zeros((filters, n_fft // 2 + 1))
    for j in range(filters):
        lo, mid, hi = int(edges[j]), int(edges[j + 1]), int(edges[j + 2])
        fb[j, lo:mid] = (np.arange(lo, mid) - edges[j]) / (edges[j + 1] - edges[j])
        fb[j, mid:hi] = (edges[j + 2] - np.arange(mid, hi)) / (edges[j + 2] - edges[j + 1])
    return fb


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II `[n, n]`: row k is `c_k cos(pi k (2 m + 1) / 2n)`, c_0 = sqrt(1/n), else sqrt(2/n)."""
    k, m = np.arange(n)[:, None], np.arange(n)[None]
    return np.cos(np.pi * k * (2 * m + 1) / (2 * n)) * np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))


def mfcc(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """16-bit PCM values `[N]` -> MFCC `[13, frames]`, frames = 1 + ceil((N - 400) / 160) (1 when N <= 400)."""
    x = np.asarray(samples, np.float64)
    x = np.append(x[:1], x[1:] - PREEMPH * x[:-1])
    n = 1 if len(x) <= MFCC_WIN else 1 + math.ceil((len(x) - MFCC_WIN) / MFCC_HOP)
    x = np.pad(x, (0, (n - 1) * MFCC_HOP + MFCC_WIN - len(x)))
    frames = x[np.arange(MFCC_WIN)[None] + MFCC_HOP * np.arange(n)[:, None]]  # rectangular window
    power = np.abs(np.fft.rfft(frames, MFCC_FFT)) ** 2 / MFCC_FFT
    eps = np.finfo(float).eps
    energy = power.sum(1)
    energy[energy == 0] = eps
    bands = power @ mel_filterbank(rate).T
    bands[bands == 0] = eps
    cep = np.log(bands) @ dct_matrix(MFCC_FILTERS)[:MFCC_COEFFS].T
    cep *= 1.0 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(MFCC_COEFFS) / LIFTER)
    cep[:, 0] = np.log(energy)
    return cep.T


# ---- faces: detection, tracks, crops ---------------------------------------------------------------

Detector = Callable[[np.ndarray], np.ndarray]  # RGB frame [H, W, 3] -> boxes [k, 4] (x1, y1, x2, y2), px


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes (syncnet_python's version: no +1 pixel)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@dataclass(frozen=True)
class FaceTrack:
    """One tracked face: every frame from its first to its last detection, and the box in each `[F, 4]`."""

    frames: np.ndarray  # [F] frame indices (consecutive)
    boxes: np.ndarray  # [F, 4] x1, y1, x2, y2 (px), interpolated over missed frames


def face_tracks(detections: Sequence[np.ndarray], min_track: int = MIN_TRACK, min_face: float = MIN_FACE) -> list[FaceTrack]:
    """Per-frame boxes `[k, 4]` -> the kept tracks, greedily as syncnet_python's `track_shot`: each pass
    starts a track at the first remaining detection and walks the frames in order, taking every detection
    that overlaps the track's last box (IoU > 0.5) at most 25 frames after it (a frame's boxes are walked
    as the published loop walks them: the box after a taken one is passed over). Kept: more than
    `min_track` detections and a mean box side over `min_face` px; missed frames get interpolated boxes."""
    left = [[np.asarray(b, float) for b in boxes] for boxes in detections]
    tracks = []
    while True:
        track: list[tuple[int, np.ndarray]] = []
        for f, boxes in enumerate(left):
            i = 0
            while i < len(boxes):  # the published loop removes from the list it walks: the next box is passed over
                if not track:
                    track.append((f, boxes.pop(i)))
                elif f - track[-1][0] <= FAILED_DET:
                    if iou(boxes[i], track[-1][1]) > IOU_JOIN:
                        track.append((f, boxes.pop(i)))
                else:
                    break
                i += 1
        if not track:
            return tracks
        if len(track) > min_track:
            fr = np.array([f for f, _ in track])
            bx = np.stack([b for _, b in track])
            every = np.arange(fr[0], fr[-1] + 1)
            boxes = np.stack([np.interp(every, fr, bx[:, j]) for j in range(4)], 1)
            if max(np.mean(boxes[:, 2] - boxes[:, 0]), np.mean(boxes[:, 3] - boxes[:, 1])) > min_face:
                tracks.append(FaceTrack(every, boxes))


def median_filter(x: np.ndarray, size: int = SMOOTH) -> np.ndarray:
    """The median of a centred window of `size` (odd), zero-padded at the ends (scipy.signal.medfilt's rule)."""
    x = np.pad(np.asarray(x, float), size // 2)
    return np.median(np.lib.stride_tricks.sliding_window_view(x, size), axis=1)


def crop_track(video: np.ndarray, track: FaceTrack, scale: float = CROP_SCALE) -> np.ndarray:
    """uint8 RGB `[T, H, W, 3]` -> the track's face crops, BGR `[F, 224, 224, 3]` uint8."""
    import cv2

    b = track.boxes
    s = median_filter(np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2)
    cy = median_filter((b[:, 1] + b[:, 3]) / 2)
    cx = median_filter((b[:, 0] + b[:, 2]) / 2)
    out = np.empty((len(track.frames), CROP, CROP, 3), np.uint8)
    for i, f in enumerate(track.frames):
        pad = int(s[i] * (1 + 2 * scale))
        img = np.pad(video[f][..., ::-1], ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_VALUE)
        my, mx = cy[i] + pad, cx[i] + pad
        face = img[int(my - s[i]) : int(my + s[i] * (1 + 2 * scale)), int(mx - s[i] * (1 + scale)) : int(mx + s[i] * (1 + scale))]
        out[i] = cv2.resize(np.ascontiguousarray(face), (CROP, CROP))
    return out


# ---- the offset search -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncScore:
    """One track's result: Sync-C (median minus min distance), Sync-D (min mean distance), the offset
    (video frames, positive: audio leads as syncnet_python prints it) and the mean distance per shift `[31]`."""

    confidence: float
    distance: float
    offset: int
    curve: np.ndarray


def shift_distances(video_emb: torch.Tensor, audio_emb: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """`[W, D]` video and audio window embeddings -> `[2 vshift + 1]` mean over windows of the distance of
    window i's video to window i + k - vshift's audio (zero embeddings beyond the ends)."""
    padded = torch.nn.functional.pad(audio_emb, (0, 0, vshift, vshift))
    idx = torch.arange(len(video_emb))[:, None] + torch.arange(2 * vshift + 1)[None]  # [W, 31]
    d = torch.nn.functional.pairwise_distance(video_emb[:, None].expand(-1, 2 * vshift + 1, -1), padded[idx], eps=1e-6)
    return d.mean(0)


def sync_score(curve: torch.Tensor, vshift: int = VSHIFT) -> SyncScore:
    lo, arg = torch.min(curve, 0)
    return SyncScore(float(torch.median(curve) - lo), float(lo), int(vshift - arg), curve.numpy().astype(np.float64))


def window_count(frames: int, samples: int) -> int:
    """syncnet_python's number of windows: min(frames, samples // 640) - 5 (may be <= 0)."""
    return min(frames, samples // SAMPLES_PER_FRAME) - WINDOW_FRAMES


def video_windows(crops: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Crops `[3, F, 224, 224]` -> windows `[stop - start, 3, 5, 224, 224]`: frames i .. i + 4 for each i."""
    return torch.stack([crops[:, i : i + WINDOW_FRAMES] for i in range(start, stop)])


def audio_windows(cc: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """MFCC `[13, M]` -> windows `[stop - start, 1, 13, 20]`: MFCC frames 4 i .. 4 i + 19 for each i."""
    return torch.stack([cc[None, :, MFCC_PER_FRAME * i : MFCC_PER_FRAME * i + MFCC_WINDOW] for i in range(start, stop)])


def score_track(model: SyncNet, crops_bgr: np.ndarray, audio_pcm: np.ndarray, device: str = "cpu",
                batch: int = 20) -> SyncScore | None:
    """A track's crops `[F, 224, 224, 3]` (BGR) and its PCM `[N]` -> its score; None when it is shorter than
    one window. Windows are made a batch at a time (all of a long track's would take gigabytes)."""
    w = window_count(len(crops_bgr), len(audio_pcm))
    if w <= 0:
        return None
    cc = torch.from_numpy(mfcc(audio_pcm)).float()
    x = torch.from_numpy(np.ascontiguousarray(crops_bgr)).permute(3, 0, 1, 2)  # uint8 [3, F, 224, 224]
    ve, ae = [], []
    with torch.no_grad():
        for i in range(0, w, batch):
            j = min(w, i + batch)
            ve.append(model.forward_lip(video_windows(x, i, j).float().to(device)).cpu())
            ae.append(model.forward_aud(audio_windows(cc, i, j).to(device)).cpu())
    return sync_score(shift_distances(torch.cat(ve), torch.cat(ae)))


# ---- the analysis ----------------------------------------------------------------------------------

class SyncNetFeatures(BackboneAnalysis):
    """Per clip `{"confidence": [k], "distance": [k], "offset": [k], "frames": [k]}` over its k kept face
    tracks (all empty when none is kept: the reason is in the conversions). `detector` replaces S3FD in
    tests of the tracking and scoring (then its weights file is not read)."""

    def __init__(self, weights_dir=None, device: str = "cpu", detector: Detector | None = None, widths: dict | None = None):
        self.widths = widths or {}  # SyncNet(**widths): narrower only in tests of the same code
        self._detector, self._s3fd = detector, detector is None
        self.weights_names = ("syncnet-v2",) if detector else ("syncnet-v2", "s3fd")
        protocol = {"name": "syncnet-python", "fps": FPS, "rate": RATE, "crop": f"{CROP} x {CROP} BGR 0-255",
                    "window": f"{WINDOW_FRAMES} frames / {MFCC_WINDOW} MFCC frames (13 coefficients)",
                    "vshift": VSHIFT, "min_track": MIN_TRACK, "min_face_size": MIN_FACE, "crop_scale": CROP_SCALE,
                    "smoothing": f"median filter {SMOOTH} frames", "tracking": f"IoU > {IOU_JOIN}, gaps <= {FAILED_DET} frames",
                    "face_detector": "custom (tests)" if detector else "S3FD sfd_face.pth, scale 0.25, score > 0.9",
                    "deviations": "no shot detection (one shot per clip); no lossy re-encoding of frames and crops",
                    "value": "per track: Sync-C = median - min, Sync-D = min of the mean distance per shift; "
                             "per clip: mean over tracks"}
        super().__init__("syncnet", protocol, weights_dir, device)

    def build(self, states):
        from ..weights import load_into
        from .s3fd import S3FD, detect

        if self._detector is None:
            face = load_into(S3FD(), states["s3fd"], "s3fd").eval().to(self.device)
            self._detector = lambda frame: detect(face, frame, self.device)
        return load_into(SyncNet(**self.widths), states["syncnet-v2"], "syncnet-v2").eval().to(self.device)

    def compute(self, clip):
        from .synchformer import frames_at_25fps

        conv: list[str] = []
        empty = {k: np.zeros(0) for k in ("confidence", "distance", "offset", "frames")}
        frames = frames_at_25fps(clip.video, clip.fps, clip.num_frames * 25)  # every frame of the clip at 25 fps
        if abs(clip.fps - FPS) > 1e-6:
            conv.append(f"frame rate {clip.fps:g} -> 25 fps (nearest frame)")
        pcm = pcm16(mono_at(clip, RATE, conv))
        if len(frames) <= MIN_TRACK:
            return empty, [*conv, f"{len(frames)} frames at 25 fps: a face track needs more than {MIN_TRACK}; "
                                  "Sync-C/Sync-D unavailable"]
        from .s3fd import MIN_SIDE

        if self._s3fd and min(frames.shape[1:3]) < MIN_SIDE:
            return empty, [*conv, f"frames of {frames.shape[2]} x {frames.shape[1]} px: S3FD at scale 0.25 needs a side of "
                                  f"at least {MIN_SIDE} px (a kept face, over {MIN_FACE} px); Sync-C/Sync-D unavailable"]
        model = self.model  # loads the detector too
        tracks = face_tracks([self._detector(f) for f in frames])
        if not tracks:
            return empty, [*conv, f"no face tracked over more than {MIN_TRACK} frames with a mean side over "
                                  f"{MIN_FACE} px: Sync-C/Sync-D unavailable"]
        scores, lengths = [], []
        for t in tracks:
            audio = pcm[int(t.frames[0] * SAMPLES_PER_FRAME) : int((t.frames[-1] + 1) * SAMPLES_PER_FRAME)]
            s = score_track(model, crop_track(frames, t), audio, self.device)
            if s is not None:
                scores.append(s)
                lengths.append(len(t.frames))
        if not scores:
            return empty, [*conv, "the face tracks have less audio than one 0.2 s window: Sync-C/Sync-D unavailable"]
        return {"confidence": np.array([s.confidence for s in scores]), "distance": np.array([s.distance for s in scores]),
                "offset": np.array([s.offset for s in scores], float), "frames": np.array(lengths, float)}, conv
