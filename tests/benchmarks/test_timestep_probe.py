"""benchmarks/timestep_probe.py: a stream trained on its own time reads it; one fed a constant time does not."""

import importlib.util
import sys
from pathlib import Path

import torch

import reference_impl as R
from reference_impl.diffusion import TrainConfig, Trainer
from reference_impl.diffusion.stages import StreamsModel
from tests.reference_impl.latents import random_latent_data as _data

_spec = importlib.util.spec_from_file_location("timestep_probe", Path(__file__).parents[2] / "benchmarks" / "timestep_probe.py")
probe_mod = importlib.util.module_from_spec(_spec)
sys.modules["timestep_probe"] = probe_mod
_spec.loader.exec_module(probe_mod)


def test_probe_tells_a_stream_fed_t_1_from_one_fed_its_own_time(tmp_path):
    cfg = R.build_model("none", "tiny").cfg
    rows = {}
    for fed in ("own", "one"):
        torch.manual_seed(0)
        model = StreamsModel(cfg, ("video",))
        if fed == "one":  # the old capture's fault: the video stream always told the absent audio's t = 1
            forward = model.forward
            model.forward = lambda v, a, tv, ta, *rest, forward=forward, **kw: forward(v, a, torch.ones_like(tv), ta, *rest, **kw)
        data = _data(cfg, n=8)
        tr = Trainer(model, data, TrainConfig(steps=150, batch_size=8, lr=2e-3, task_probs={"t2v": 1.0}), tmp_path / fed)
        tr.fit()
        vars(model).pop("forward", None)
        rows[fed] = probe_mod.probe(model.eval(), ("video",), {"video": data.video, "audio": data.audio}, data.text,
                                    data.text_mask, seed=3)[0]
    own, one = rows["own"], rows["one"]
    assert own["own t"] < own["t = 1"] and own["own t"] < own["t = 0"]  # reads its time
    assert one["t = 1"] < one["own t"]  # best told the constant it was fed
