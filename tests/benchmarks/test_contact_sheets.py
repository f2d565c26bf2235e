"""Step 10's contact sheets (benchmarks/contact_sheets.py) at tiny scale on CPU: one sheet per model folder of the
claims layout, each sampled with the model's own guidance scheme, and an index naming the weights by sha256."""

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from ccl_bench.errors import CCLBenchError

_root = Path(__file__).parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location("contact_sheets", _root / "contact_sheets.py")
contact_sheets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contact_sheets)


def test_a_sheet_per_model_with_its_own_guidance(tmp_path, monkeypatch):
    train_small = contact_sheets._train_small()
    camp = tmp_path / "camp"
    train_small.main(["--out", str(camp), "--models", "ccl,ltx2", "--scale", "tiny", "--device", "cpu", "--inline",
                      "--budget-s", "3600", "--reserve-s", "0", "--steps", "2", "--stream-steps", "2",
                      "--audio-stream-steps", "2", "--seeds", "0", "--clips", "4", "--batch-size", "2", "--sheets", "none"])
    layout = tmp_path / "claims" / "seed0"
    layout.mkdir(parents=True)
    for m in ("ccl", "ltx2"):
        (layout / m).symlink_to(camp / "runs" / m / "seed-0")
    drawn = []
    real = train_small.sample_sheet
    monkeypatch.setattr(contact_sheets, "_train_small", lambda: type("M", (), {"sample_sheet": staticmethod(
        lambda *a, **k: drawn.append(k["guidance"]) or real(*a, **k))}))
    contact_sheets.main(["--checkpoints", str(tmp_path / "claims"), "--out", str(tmp_path / "sheets"), "--num", "1",
                         "--steps", "2"])
    assert drawn == ["ucg", "ltx2"]  # each model's own scheme (the claims study's)
    assert (tmp_path / "sheets" / "ccl_t2av.png").stat().st_size > 0 and (tmp_path / "sheets" / "ltx2_t2av.png").is_file()
    index = (tmp_path / "sheets" / "README.md").read_text()
    sha = hashlib.sha256((layout / "ccl" / "ema.safetensors").read_bytes()).hexdigest()
    assert f"| ccl | ucg | [ccl_t2av.png](ccl_t2av.png) | `{sha[:16]}` |" in index
    # drawing one model again keeps the other's sheet and row (with the commit and date that drew it)
    first = {r["model"]: r for r in json.loads((tmp_path / "sheets" / "index.json").read_text())}
    first["ltx2"]["date_utc"] = "earlier"
    (tmp_path / "sheets" / "index.json").write_text(json.dumps(list(first.values())))
    contact_sheets.main(["--checkpoints", str(tmp_path / "claims"), "--out", str(tmp_path / "sheets"), "--num", "1",
                         "--steps", "2", "--models", "ccl"])
    assert drawn == ["ucg", "ltx2", "ucg"]
    index = (tmp_path / "sheets" / "README.md").read_text()
    assert "| ltx2 | ltx2 | [ltx2_t2av.png](ltx2_t2av.png) |" in index and ", earlier |" in index
    assert index.count("| ccl | ucg |") == 1 and "--models ccl" in index
    (tmp_path / "sheets" / "ltx2_t2av.png").unlink()  # a row whose sheet is gone is dropped
    contact_sheets.main(["--checkpoints", str(tmp_path / "claims"), "--out", str(tmp_path / "sheets"), "--num", "1",
                         "--steps", "2", "--models", "ccl"])
    assert "ltx2" not in (tmp_path / "sheets" / "README.md").read_text()
    with pytest.raises(CCLBenchError, match="no trained model folders"):
        contact_sheets.sheets(tmp_path / "camp", 0, tmp_path / "x", 1, 2, "cpu")
    sys.modules.pop("train_small", None)
