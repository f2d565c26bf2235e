"""`benchmarks/claims_measures.py --seeds`: only the named training seeds' checkpoints are measured (the others,
measured earlier or elsewhere, are left as they are)."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

_path = Path(__file__).parents[2] / "benchmarks" / "claims_measures.py"
_spec = importlib.util.spec_from_file_location("claims_measures", _path)
cm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cm)


def test_seeds_picks_the_named_seed_folders(tmp_path, monkeypatch):
    for k in (0, 1, 2):
        (tmp_path / "CK" / f"seed{k}" / "ccl").mkdir(parents=True)
        (tmp_path / "CK" / f"seed{k}" / "ccl" / "ema.safetensors").write_bytes(b"")
    stage1 = SimpleNamespace(cfg=SimpleNamespace(text_dim=4))
    monkeypatch.setattr(cm, "load_stage1", lambda streams, device: (stage1, {}))
    monkeypatch.setattr(cm, "held_out", lambda *a: (None, None, None, None, ["c0"], [], []))  # no background clips
    monkeypatch.setattr(cm, "load_trained", lambda ck, device: (Path(ck).parent.name, None))
    monkeypatch.setattr(cm, "prediction_drift", lambda model, *a, seed: np.array([float(seed)]))
    written = []
    monkeypatch.setattr(cm, "write_measure", lambda runs, seed, name, model, ids, values, info: written.append(seed))
    base = ["--checkpoints", str(tmp_path / "CK"), "--streams", "S", "--runs", str(tmp_path / "R"), "--models", "ccl",
            "--device", "cpu"]
    assert cm.main(base + ["--seeds", "1,2"]) == 0
    assert written == [1, 2]
    written.clear()
    assert cm.main(base) == 0
    assert written == [0, 1, 2]
