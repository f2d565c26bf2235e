"""The result schema: `result-v1.schema.json` (JSON Schema, Draft 2020-12) describes what `ccl-bench eval
--out` and `ccl-bench run` write. `validate_result` lists a document's faults; `check_result_file` is
`ccl-bench validate-result`.

A file written before schema version 1 carries no `schema_version`; it is checked against the same schema
less the keys version 1 added (each object lists them under `x-since-v1`), so an old file is still checked
on everything it has."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

from ..errors import CCLBenchError

SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("result-v1.schema.json")


@cache
def load_schema(before_v1: bool = False) -> dict:
    """The schema; `before_v1`: with the `x-since-v1` keys no longer required."""
    schema = json.loads(SCHEMA_FILE.read_text())
    if before_v1:
        schema = copy.deepcopy(schema)
        _drop_since_v1(schema)
    return schema


def _drop_since_v1(node) -> None:
    if isinstance(node, dict):
        since = set(node.get("x-since-v1", ()))
        if since and "required" in node:
            node["required"] = [k for k in node["required"] if k not in since]
        for v in node.values():
            _drop_since_v1(v)
    elif isinstance(node, list):
        for v in node:
            _drop_since_v1(v)


def validate_result(doc, before_v1_ok: bool = False) -> list[str]:
    """-> the document's faults, each `at <path>: <message>` (the most telling first); empty when it is valid.
    before_v1_ok: a document without `schema_version` is checked without the keys version 1 added (else that
    key is missing)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    before_v1 = before_v1_ok and isinstance(doc, dict) and "schema_version" not in doc
    validator = Draft202012Validator(load_schema(before_v1))
    errors = list(validator.iter_errors(doc))
    if not errors:
        return []
    first = best_match(errors)
    out = [f"at {_where(first)}: {_message(first)}"]
    return out + [f"at {_where(e)}: {_message(e)}" for e in errors if e is not first]


def _where(e) -> str:
    return ".".join(str(p) for p in e.absolute_path) or "(top)"


def _message(e) -> str:
    """The deepest reason of a oneOf failure (which branch, and why) rather than 'is not valid under any'."""
    if e.context:
        from jsonschema.exceptions import best_match

        deeper = best_match(e.context)
        where = ".".join(str(p) for p in deeper.absolute_path)
        return f"{deeper.message}" + (f" (at {where})" if where and where != _where(e) else "")
    return e.message


def check_result_file(path: str | Path) -> str:
    """One line: `FILE: valid result (schema v1)`, or a `CCLBenchError` naming the file and its first fault."""
    p = Path(path)
    if not p.is_file():
        raise CCLBenchError(f"{p}: result file not found")
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CCLBenchError(f"{p}: not valid JSON ({type(exc).__name__}: {exc})") from None
    faults = validate_result(doc, before_v1_ok=True)
    if faults:
        more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
        raise CCLBenchError(f"{p}: does not match the result schema v{SCHEMA_VERSION}: {faults[0]}{more}")
    if isinstance(doc, dict) and "schema_version" not in doc:
        return f"{p}: valid result, written before schema v1 (no schema_version; checked without the keys v1 added)"
    return f"{p}: valid result (schema v{doc['schema_version']})"
