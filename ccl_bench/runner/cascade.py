"""The cascade of claim 8 (`ccl-bench run --model cascade`), a generator plugin built from the shipped
reference checkpoints: T2V by one model, then V2A by another conditioned on the video the first made
(decoded to 8-bit frames and encoded again, as a cascade of two separate systems passes it on).

[design] Default stages, as the claims study pre-registers them (benchmarks/claims/av-sync.yaml, claim 8):
T2V by `none` (the streams fine-tuned on the five tasks with no interaction, so its T2V is its video
stream alone) and V2A by `ccl`. Either stage may name another model or a checkpoint folder:
`--set t2v=MODEL|DIR --set v2a=MODEL|DIR` (a name is looked up as `run` finds shipped checkpoints).
Both stages sample with the run's `--guidance` and `--steps`; a clip's network evaluations are the sum
of the two stages'. Only T2AV: the cascade's whole point is the pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CCLBenchError
from ..generators import GeneratedClip, GenerationRequest
from ..paths import portable

STAGES = {"t2v": "none", "v2a": "ccl"}  # stage -> default model (`claims --plan` reads it: no torch at import)
BATCH = 16


def stage_noise(seed: int, stage: int, video_shape, audio_shape):
    """Initial noise of one prompt's stage -> (video, audio) tensors: its own generator, seeded by
    (prompt seed, stage)."""
    import torch

    g = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, stage]).generate_state(1)[0]))
    return torch.randn(video_shape, generator=g), torch.randn(audio_shape, generator=g)


class Cascade:
    """T2V then V2A, each by a trained reference model (see the module docstring)."""

    tasks = ("t2av",)
    options = tuple(STAGES)  # --set t2v=MODEL|DIR --set v2a=MODEL|DIR

    def __init__(self):
        self._stages: dict[str, tuple] = {}  # stage -> (model, config.json, checkpoint folder), loaded on first use
        self._key = None

    def _checkpoints(self, request: GenerationRequest) -> dict[str, Path]:
        from .run import find_checkpoint

        unknown = sorted(set(request.options) - set(STAGES))
        if unknown:
            raise CCLBenchError(f"--set {unknown[0]}: the cascade takes {', '.join(f'{s}=MODEL|DIR' for s in STAGES)}")
        out = {}
        for stage, default in STAGES.items():
            value = request.options.get(stage, default)
            out[stage] = Path(value) if Path(value).is_dir() else find_checkpoint(request.suite, value)
        return out

    def _load(self, request: GenerationRequest) -> None:
        from .models import load_trained

        folders = self._checkpoints(request)
        key = (tuple(folders.values()), request.device)
        if key == self._key:
            return
        self._stages = {}
        for stage, folder in folders.items():
            model, info = load_trained(folder, request.device)
            if info.get("rendering") != request.format.rendering:
                raise CCLBenchError(f"--set {stage}={folder}: trained on the {info.get('rendering')!r} rendering, the run "
                                    f"makes {request.format.rendering!r} clips")
            self._stages[stage] = (model, info, folder)
        self._key = key

    def generate(self, request: GenerationRequest) -> list[GeneratedClip]:
        import torch

        from reference_impl.diffusion import sample
        from reference_impl.text import text_encoder

        from .models import codecs_for

        self._load(request)
        fmt, dev = request.format, request.device
        vc, ac = codecs_for(fmt)  # the rendering's pixel and log-mel codecs (fps, sample rate)
        lv_shape = vc.encode(torch.zeros((1, *fmt.video_shape), dtype=torch.uint8)).shape[1:]
        la_shape = ac.encode(torch.zeros((1, fmt.num_samples))).shape[1:]
        clips = []
        prompts = list(request.prompts)
        for s in range(0, len(prompts), BATCH):
            batch = prompts[s : s + BATCH]
            captions = [p.caption for p in batch]
            video = None
            nfe = 0
            for n, (stage, task) in enumerate((("t2v", "t2v"), ("v2a", "v2a")), start=1):
                model = self._stages[stage][0]
                enc = text_encoder(model.cfg.text_dim)
                text, mask = enc(captions)
                null_text, null_mask = enc([""] * len(batch))
                noise = [stage_noise(p.seed, n, lv_shape, la_shape) for p in batch]
                cond = vc.encode(video).to(dev) if task == "v2a" else None  # stage 1's frames, as stage 2 sees them
                xv, xa, info = sample(model, task, text.to(dev), mask.to(dev), null_text.to(dev), null_mask.to(dev),
                                      (len(batch), *lv_shape), (len(batch), *la_shape), cond_video=cond,
                                      steps=request.steps, guidance=request.guidance,
                                      init_noise=(torch.stack([v for v, _ in noise]), torch.stack([a for _, a in noise])))
                nfe += info.nfe_per_clip
                if task == "t2v":
                    video = vc.decode(xv.cpu())  # uint8 [B, T, H, W, 3]
                else:
                    audio = ac.decode(xa.cpu(), fmt.num_samples)  # float [B, S]
            clips += [GeneratedClip(video=video[j].numpy(), audio=audio[j].clamp(-1, 1).numpy().astype(np.float32), nfe=nfe)
                      for j in range(len(batch))]
        return clips

    def provenance(self) -> dict:
        """Each stage's model, checkpoint and its sha256 (filled once a task ran)."""
        from .run import sha256

        return {stage: {"model": info.get("name"), "checkpoint": portable(folder),
                        "checkpoint_sha256": sha256(folder / "ema.safetensors")}
                for stage, (_, info, folder) in self._stages.items()}
