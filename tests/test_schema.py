"""The result schema (`ccl_bench/schema/result-v1.schema.json`): the committed tables validate, and what it
refuses (a sentinel value, an unavailable metric without its reason, a value beside `unavailable`, a result
of version 1 without the keys version 1 requires)."""

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ccl_bench.cli import main
from ccl_bench.schema import SCHEMA_FILE, load_schema, validate_result

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "results" / "av-sync").glob("*.json"))


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text()))
    assert load_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_tables_validate(path, capsys):
    doc = json.loads(path.read_text())
    assert main(["validate-result", str(path)]) == 0
    line = capsys.readouterr().out
    # Written before schema v1: checked on everything they have (a later regeneration adds schema_version).
    assert ("valid result (schema v1)" in line) if "schema_version" in doc else ("written before schema v1" in line)
    assert validate_result(doc, before_v1_ok=True) == []


def v1_run() -> dict:
    """A committed run table with the keys version 1 added."""
    doc = json.loads((ROOT / "results" / "av-sync" / "ccl.json").read_text())
    doc.update(schema_version=1, suite_version="sha256:0123456789abcdef")
    doc["provenance"]["short_clip_policy"] = {"sync": "any length"}
    return doc


def test_a_version_1_run_table_validates_and_needs_every_key_of_version_1():
    assert validate_result(v1_run()) == []
    for drop in ("suite_version", "provenance.short_clip_policy", "provenance.decoder", "tasks.t2av.metrics.av-align.n"):
        doc = v1_run()
        *parents, key = drop.split(".")
        node = doc
        for p in parents:
            node = node[p]
        del node[key]
        faults = validate_result(doc)
        assert faults and f"'{key}' is a required property" in " ".join(faults), drop
    doc = v1_run()
    del doc["schema_version"]
    assert validate_result(doc) != []  # a fresh result must say its version
    assert validate_result(doc, before_v1_ok=True) == []


@pytest.mark.parametrize("mutate, needle", [
    (lambda m: m["av-align"].update(value=-999), "should not be valid under"),  # Verse-Bench's sentinel
    (lambda m: m["fvd"].pop("reason"), "'reason' is a required property"),
    (lambda m: m["fvd"].update(value=1.0), "should not be valid under"),  # a number beside `unavailable`
    (lambda m: m["av-align"]["per_family"]["bouncing-ball"].update(value=None), "None is not of type 'number'"),
    (lambda m: m["av-align"]["protocol"].pop("statistics"), "'statistics' is a required property"),
    (lambda m: m["av-align"].update(ci95=[0.1]), "is too short"),
])
def test_what_the_schema_refuses(mutate, needle):
    doc = v1_run()
    mutate(doc["tasks"]["t2av"]["metrics"])
    faults = validate_result(doc)
    assert faults and any(needle in f for f in faults), faults


def test_validate_result_names_the_file_and_its_fault_in_one_line(tmp_path, capsys):
    doc = v1_run()
    doc["tasks"]["t2av"]["metrics"]["fvd"].pop("reason")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["validate-result", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json: does not match the result schema v1: at tasks.t2av.metrics.fvd" in err
    (tmp_path / "x.json").write_text("{")
    assert main(["validate-result", str(tmp_path / "x.json")]) == 2
    assert "x.json: not valid JSON" in capsys.readouterr().err


def test_an_eval_result_and_a_run_result_are_told_apart():
    run = v1_run()
    ev = {"schema_version": 1, "suite": None, "metrics": run["tasks"]["t2av"]["metrics"], "provenance": run["provenance"],
          "clips": {"pred": {"folder": "clips", "clips": 32, "used": 32, "excluded": [], "conversions": {}}}}
    assert validate_result(ev) == []
    both = copy.deepcopy(ev)
    both["tasks"] = run["tasks"]  # neither an eval result (it has tasks) nor a run result (no model, settings)
    assert validate_result(both) != []


def test_a_run_records_its_suite_version_from_the_spec(tmp_path):
    import dataclasses

    from ccl_bench.runner.run import suite_version
    from ccl_bench.suites import load_suite

    spec = load_suite("av-sync")
    v = suite_version(spec)
    assert v.startswith("sha256:") and len(v) == len("sha256:") + 16
    edited = tmp_path / "av-sync.yaml"
    edited.write_text(Path(spec.path).read_text() + "\n# an edit\n")
    assert suite_version(load_suite(str(edited))) != v  # any edit of the spec is another version
    declared = dataclasses.make_dataclass("Spec", [("path", str), ("version", str)])(spec.path, "1.2")
    assert suite_version(declared) == "1.2"  # a spec that declares its version is taken at its word
