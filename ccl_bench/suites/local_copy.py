"""Benchmark suites read from the user's local copy of a published benchmark (Verse-Bench, JavisBench,
JavisBench-mini, T2AV-Compass). The spec (YAML with `kind: benchmark`) names the publisher's layout; one reader
per layout turns the copy into a `BenchmarkItem` per prompt: its clip id (the file stem the benchmark's own
scripts expect of a generated clip), its texts and its categories per aspect. Nothing here reads a clip or
computes a metric (`ccl_bench.aggregation` does the per-category breakdown).

Where the copy is: `--bench-root`, else the spec's environment variable(s). A copy that is absent or not in the
publisher's layout is refused in one line naming the benchmark, the path tried and the layout expected."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CCLBenchError

HEADLINES = ("pooled", "mean-of-category-means")
TEXT_RULES = ("transcript", "audio_caption")  # a metric's `when`: only the prompts holding this text
CAPTIONS = ("caption", "video_caption", "audio_caption")  # a metric's `caption`: the text its `caption` reads
REFERENCES = ("features", "audio")


@dataclass(frozen=True)
class Aspect:
    """One axis of a benchmark's taxonomy (JavisBench's `Sound Type`, Verse-Bench's subset). field: where the
    layout keeps it; categories: index -> title, for layouts that store indices (JavisBench's `cat<k>_ind`)."""

    name: str
    field: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteMetric:
    """A benchmark's number and the ccl-bench metric that computes it. planned: not built in ccl-bench yet
    (reported unavailable with that reason); when: only prompts holding this text; reference: what the
    metric compares against (`features`: the feature file shipped with the copy, `audio`: its real sounds);
    caption: which of the prompt's texts the metric reads as its caption (JavisBench scores audio against the
    audio caption, T2AV-Compass video against the video prompt)."""

    name: str
    benchmark: str
    when: str | None = None
    reference: str | None = None
    planned: bool = False
    note: str = ""
    caption: str = "caption"


@dataclass
class BenchmarkSpec:
    name: str
    description: str
    version: str
    env: list[str]
    layout: str
    files: dict[str, Any]
    expected: str  # the publisher's layout in one line, for the error of a missing copy
    clip_id: str
    aspects: list[Aspect]
    metrics: list[SuiteMetric]
    headline: str = "pooled"
    headline_over: str | None = None  # the aspect whose category means make the headline
    protocol: str = ""
    fvd_protocol: str = "videogpt"
    clip_aliases: list[str] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    kind: str = "benchmark"

    def metric(self, name: str) -> SuiteMetric | None:
        return next((m for m in self.metrics if m.name == name), None)


@dataclass(frozen=True)
class BenchmarkItem:
    """One prompt of the local copy. text: `caption` (what the generator is given), and where the benchmark has
    them `video_caption`, `audio_caption`, `transcript`; categories: aspect name -> its categories (several where
    the benchmark labels a prompt with several); reference: `image` / `audio` / `video` files of the copy."""

    id: str
    text: dict[str, str]
    categories: dict[str, tuple[str, ...]]
    aliases: tuple[str, ...] = ()
    reference: dict[str, Path] = field(default_factory=dict)

    def has(self, rule: str | None) -> bool:
        return rule is None or bool(self.text.get(rule))


# -- the spec ---------------------------------------------------------------------------------------------------

def is_benchmark(raw: dict) -> bool:
    return isinstance(raw, dict) and raw.get("kind") == "benchmark"


def benchmark_spec(raw: dict, path: Path, base: dict | None = None) -> BenchmarkSpec:
    """A `BenchmarkSpec` from the YAML mapping (over its `extends` base, key by key). Faults name the file."""
    if base is not None:
        raw = {**base, **{k: v for k, v in raw.items() if k != "extends"}}
    try:
        env = raw.get("env") or []
        env = [env] if isinstance(env, str) else [str(e) for e in env]
        aspects = [Aspect(str(a["name"]), str(a["field"]), tuple(str(c) for c in a.get("categories") or ()))
                   for a in raw.get("aspects") or []]
        metrics = [SuiteMetric(str(m["name"]), str(m.get("benchmark", m["name"])), m.get("when"), m.get("reference"),
                               bool(m.get("planned", False)), str(m.get("note", "")), str(m.get("caption", "caption")))
                   for m in raw["metrics"]]
        agg = raw.get("aggregation") or {}
        spec = BenchmarkSpec(
            name=str(raw["name"]), description=" ".join(str(raw.get("description", "")).split()),
            version=str(raw.get("version", "")), env=env, layout=str(raw["layout"]), files=dict(raw.get("files") or {}),
            expected=" ".join(str(raw["expected"]).split()), clip_id=str(raw["clip_id"]), aspects=aspects,
            metrics=metrics, headline=str(agg.get("headline", "pooled")), headline_over=agg.get("over"),
            protocol=" ".join(str(raw.get("protocol", "")).split()), fvd_protocol=str(raw.get("fvd_protocol", "videogpt")),
            clip_aliases=[str(a) for a in raw.get("clip_aliases") or []], run=dict(raw.get("run") or {}), path=str(path))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CCLBenchError(f"{path}: not a valid benchmark spec ({type(exc).__name__}: {exc})") from None
    _check(spec)
    return spec


def _check(spec: BenchmarkSpec) -> None:
    where = spec.path
    if spec.layout not in READERS:
        raise CCLBenchError(f"{where}: layout '{spec.layout}' has no reader (known: {', '.join(READERS)})")
    if spec.headline not in HEADLINES:
        raise CCLBenchError(f"{where}: aggregation.headline '{spec.headline}' (use {' or '.join(HEADLINES)})")
    names = [a.name for a in spec.aspects]
    if spec.headline == "mean-of-category-means" and spec.headline_over not in names:
        raise CCLBenchError(f"{where}: aggregation.over '{spec.headline_over}' is no aspect (aspects: {', '.join(names)})")
    seen = set()
    for m in spec.metrics:
        if m.name in seen:
            raise CCLBenchError(f"{where}: metric '{m.name}' listed twice")
        seen.add(m.name)
        if m.when not in (None, *TEXT_RULES):
            raise CCLBenchError(f"{where}: metric {m.name}: when '{m.when}' (use {' or '.join(TEXT_RULES)})")
        if m.caption not in CAPTIONS:
            raise CCLBenchError(f"{where}: metric {m.name}: caption '{m.caption}' (use {', '.join(CAPTIONS)})")
        if m.reference not in (None, *REFERENCES):
            raise CCLBenchError(f"{where}: metric {m.name}: reference '{m.reference}' (use {' or '.join(REFERENCES)})")
    if not spec.env:
        raise CCLBenchError(f"{where}: no env (the environment variable naming the local copy)")


# -- where the copy is ----------------------------------------------------------------------------------------------

def resolve_root(spec: BenchmarkSpec, bench_root: str | Path | None = None) -> Path:
    """The local copy's folder: `bench_root`, else the first of the spec's environment variables that is set.
    Absent, or not in the publisher's layout: one line naming the benchmark, the path tried and the layout."""
    how = f"give --bench-root or set ${spec.env[0]}"
    if bench_root is not None:
        root, source = Path(bench_root), "--bench-root"
    else:
        found = next(((v, os.environ[v]) for v in spec.env if os.environ.get(v)), None)
        if found is None:
            raise CCLBenchError(f"{spec.name}: no local copy given ({how}); expected a folder holding {spec.expected}")
        root, source = Path(found[1]), f"${found[0]}"
    if not root.is_dir():
        raise CCLBenchError(f"{spec.name}: {root} ({source}) is not a folder; expected a folder holding {spec.expected}")
    return root


def missing_layout(spec: BenchmarkSpec, root: Path, what: str) -> CCLBenchError:
    return CCLBenchError(f"{spec.name}: {root} lacks {what}; expected a folder holding {spec.expected}")


def read_local_copy(spec: BenchmarkSpec, bench_root: str | Path | None = None) -> tuple[Path, list[BenchmarkItem]]:
    """(the copy's folder, its prompts in the benchmark's order). Ids are unique."""
    root = resolve_root(spec, bench_root)
    items = READERS[spec.layout](spec, root)
    if not items:
        raise missing_layout(spec, root, "any prompt")
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.id in seen:
            raise CCLBenchError(f"{spec.name}: {root}: clip id '{it.id}' belongs to two prompts ({seen[it.id]} and {i})")
        seen[it.id] = i
    return root, items


def _texts(**kw: str | None) -> dict[str, str]:
    return {k: " ".join(v.split()) for k, v in kw.items() if isinstance(v, str) and v.strip()}


def _categories(spec: BenchmarkSpec, where: str, get) -> dict[str, tuple[str, ...]]:
    """aspect -> categories, from `get(field)`: a title, a list of titles, or (aspects with `categories`)
    indices into that list, as ints or a comma-separated string."""
    out = {}
    for a in spec.aspects:
        raw = get(a.field)
        if raw is None or raw == "" or raw == []:
            out[a.name] = ()
            continue
        values = raw if isinstance(raw, list) else str(raw).split(",") if a.categories else [raw]
        cats = []
        for v in values:
            v = str(v).strip()
            if not v:
                continue
            if a.categories:
                try:
                    k = int(float(v))  # a pandas-written column with gaps holds "3.0"
                except ValueError:
                    raise CCLBenchError(f"{where}: {a.field} '{v}' is not a category index") from None
                if not 0 <= k < len(a.categories):
                    raise CCLBenchError(f"{where}: {a.field} {k} is out of range (aspect {a.name} has "
                                        f"{len(a.categories)} categories)")
                v = a.categories[k]
            if v not in cats:
                cats.append(v)
        out[a.name] = tuple(cats)
    return out


# -- the publishers' layouts ---------------------------------------------------------------------------------------

def read_verse_bench(spec: BenchmarkSpec, root: Path) -> list[BenchmarkItem]:
    """set<k>/<id>.json: {"video_prompt": str, "audio_prompt": [str] or str, "speech_prompt": {"speaker", "text"}},
    beside <id>.jpg (the first frame it is conditioned on) and, in set2, <id>.wav (the real sound)."""
    subsets = [str(s) for s in spec.files.get("subsets") or []]
    absent = [s for s in subsets if not (root / s).is_dir()]
    if absent:
        raise missing_layout(spec, root, " and ".join(f"{s}/" for s in absent))
    items = []
    for s in subsets:
        files = sorted((root / s).glob("*.json"), key=lambda p: (len(p.stem), p.stem))
        if not files:
            raise missing_layout(spec, root, f"any {s}/<id>.json")
        for f in files:
            try:
                rec = json.loads(f.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CCLBenchError(f"{f}: not a Verse-Bench prompt ({type(exc).__name__}: {exc})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("video_prompt"), str) or not rec["video_prompt"].strip():
                raise CCLBenchError(f"{f}: no video_prompt (a Verse-Bench prompt holds video_prompt, audio_prompt, "
                                    "speech_prompt)")
            audio = rec.get("audio_prompt")
            audio = " ".join(a for a in audio if isinstance(a, str)) if isinstance(audio, list) else audio
            speech = rec.get("speech_prompt")
            speech = speech.get("text") if isinstance(speech, dict) else None
            ref = {k: f.with_suffix(sfx) for k, sfx in (("image", ".jpg"), ("audio", ".wav")) if f.with_suffix(sfx).is_file()}
            items.append(BenchmarkItem(spec.clip_id.format(stem=f.stem), _texts(caption=rec["video_prompt"],
                                       video_caption=rec["video_prompt"], audio_caption=audio, transcript=speech),
                                       _categories(spec, str(f), lambda fld, s=s, r=rec: s if fld == "subset" else r.get(fld)),
                                       reference=ref))
    return items


def read_javisbench(spec: BenchmarkSpec, root: Path) -> list[BenchmarkItem]:
    """The prompt CSV: one row per prompt, `text` (the caption), optional `audio_text`, `path` / `audio_path` (the
    real clip, not redistributed) and `cat<k>_ind`; row i (0-based) is clip `sample_{i:04d}`."""
    rel = str(spec.files["prompts"])
    path = root / rel
    if not path.is_file():
        raise missing_layout(spec, root, rel)
    csv.field_size_limit(1 << 24)
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CCLBenchError(f"{path}: not a JavisBench prompt table ({type(exc).__name__}: {exc})") from None
    if not rows or "text" not in rows[0]:
        raise CCLBenchError(f"{path}: no `text` column (a JavisBench table has text[, audio_text, cat0_ind..])")
    items = []
    for i, row in enumerate(rows):
        where = f"{path}: line {i + 2}"
        if not (row.get("text") or "").strip():
            raise CCLBenchError(f"{where}: empty text")
        ref = {}
        for key, col in (("video", "path"), ("audio", "audio_path")):
            p = Path(row[col]) if (row.get(col) or "").strip() else None
            if p is not None:
                p = p if p.is_absolute() else root / p
                if p.is_file():
                    ref[key] = p
        items.append(BenchmarkItem(spec.clip_id.format(row=i), _texts(caption=row["text"], video_caption=row["text"],
                                   audio_caption=row.get("audio_text") or row["text"]),
                                   _categories(spec, where, row.get), reference=ref))
    return items


def read_t2av_compass(spec: BenchmarkSpec, root: Path) -> list[BenchmarkItem]:
    """The prompt JSON: a list of records {index, prompt, video_prompt, audio_prompt, speech_prompt: [{speaker,
    description, text}], <taxonomy fields>}; record `index` k is clip `sample_{k:04d}`."""
    cands = spec.files["prompts"]
    cands = [cands] if isinstance(cands, str) else list(cands)
    path = next((root / c for c in cands if (root / c).is_file()), None)
    if path is None:
        raise missing_layout(spec, root, " or ".join(cands))
    try:
        recs = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CCLBenchError(f"{path}: not a T2AV-Compass prompt file ({type(exc).__name__}: {exc})") from None
    if not isinstance(recs, list):
        raise CCLBenchError(f"{path}: not a JSON list of prompt records")
    items = []
    for i, rec in enumerate(recs):
        where = f"{path}: record {i}"
        if not isinstance(rec, dict) or not isinstance(rec.get("index"), int) or isinstance(rec.get("index"), bool):
            raise CCLBenchError(f"{where}: no integer index")
        caption = rec.get("prompt") or rec.get("video_prompt")
        if not isinstance(caption, str) or not caption.strip():
            raise CCLBenchError(f"{where}: no prompt")
        speech = rec.get("speech_prompt") or []
        lines = [s.get("text") for s in (speech if isinstance(speech, list) else [speech]) if isinstance(s, dict)]
        k = rec["index"]
        items.append(BenchmarkItem(spec.clip_id.format(index=k), _texts(
            caption=caption, video_caption=rec.get("video_prompt") or caption, audio_caption=rec.get("audio_prompt"),
            transcript=" ".join(t for t in lines if isinstance(t, str) and t.strip())),
            _categories(spec, where, rec.get), aliases=tuple(a.format(index=k) for a in spec.clip_aliases)))
    return items


READERS = {"verse-bench": read_verse_bench, "javisbench": read_javisbench, "t2av-compass": read_t2av_compass}
