"""Every table ccl-bench shows or writes: result tables (rich on screen, CSV and Markdown, one row per
metric), the compare table, the registries' listings, clip info, metric weights and the profile.
The CLI gathers the data and prints what these return; nothing here computes a metric."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from rich.table import Table

COLUMNS = ("task", "metric", "family", "value", "ci95_low", "ci95_high", "replicates_used", "replicates", "n", "unit", "better",
           "status", "commit", "seed")
ALL = "all"  # the `family` of a row over the whole set


def _entry_row(common: dict, name: str, family: str, m: dict) -> dict:
    if m.get("status") == "unavailable":
        return {**common, "metric": name, "family": family, "value": None, "ci95_low": None, "ci95_high": None,
                "replicates_used": None, "replicates": None, "n": m.get("n"), "unit": "", "better": "",
                "status": "unavailable: " + m["reason"]}
    lo, hi = m.get("ci95") or (None, None)
    boot = m.get("interval") or {}  # {"method", "replicates", "used"}
    return {**common, "metric": name, "family": family, "value": m["value"], "ci95_low": lo, "ci95_high": hi,
            "replicates_used": boot.get("used"), "replicates": boot.get("replicates"), "n": m.get("n"),
            "unit": m.get("unit", ""), "better": m.get("better", ""), "status": "ok"}


def _metric_rows(metrics: dict, task: str | None, prov: dict) -> list[dict]:
    """Per metric: its row over the whole set (family `all`), then one per scene family, or per `aspect: category`
    of a benchmark suite."""
    out = []
    common = {"task": task, "commit": prov.get("commit"), "seed": prov.get("seed")}
    for name, m in metrics.items():
        out.append(_entry_row(common, name, ALL, m))
        out += [_entry_row(common, name, fam, e) for fam, e in (m.get("per_family") or {}).items()]
        out += [_entry_row(common, name, f"{aspect}: {cat}", e) for aspect, cats in (m.get("per_category") or {}).items()
                for cat, e in cats.items()]  # a benchmark suite's breakdown (`aggregation`)
    return out


def rows(result: dict) -> list[dict]:
    """One row per metric: of an `evaluate` result, or per task and metric of a `run` result."""
    prov = result.get("provenance", {})
    if "tasks" in result:
        return [r for task, t in result["tasks"].items() for r in _metric_rows(t["metrics"], task, prov)]
    return _metric_rows(result["metrics"], None, prov)


def fmt(x, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"
    return str(x)


def interval(r: dict) -> str:
    """`[lo, hi] (used/replicates)`; `-` without an interval."""
    if r["ci95_low"] is None:
        return "-" if not r.get("replicates") else f"none ({r['replicates_used']}/{r['replicates']} replicates)"
    used = f" ({r['replicates_used']}/{r['replicates']})" if r.get("replicates") is not None else ""
    return f"[{fmt(r['ci95_low'])}, {fmt(r['ci95_high'])}]{used}"


def rich_table(result: dict, title: str = "metrics") -> Table:
    t = Table("task", "metric", "value", "95% CI (replicates used)", "n", "better", "protocol / reason", title=title)
    protocols = {(task, name): m.get("protocol", {}) for task, ms in _metric_sets(result) for name, m in ms.items()}
    for r in rows(result):
        task = r["task"] or "-"
        if r["family"] != ALL:
            continue
        if r["status"] != "ok":
            t.add_row(task, r["metric"], "[yellow]unavailable[/]", "", "", "", r["status"][len("unavailable: "):])
            continue
        unit = f" {r['unit']}" if r["unit"] else ""
        proto = protocols.get((r["task"], r["metric"]), {})
        t.add_row(task, r["metric"], fmt(r["value"]) + unit + _fit(result, r), interval(r), str(r["n"]),
                  r["better"], str(proto.get("name") or proto.get("analysis", "")))
    return t


def _fit(result: dict, r: dict) -> str:
    """FD-inf's fit quality beside its value."""
    m = dict(_metric_sets(result)).get(r["task"], {}).get(r["metric"], {})
    return f" (fit r^2 {m['fit_r2']:.3f})" if "fit_r2" in m else ""


def _metric_sets(result: dict):
    if "tasks" in result:
        return [(task, t["metrics"]) for task, t in result["tasks"].items()]
    return [(None, result["metrics"])]


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows(result):
        w.writerow(r)
    return buf.getvalue()


def provenance_line(prov: dict) -> str:
    """One Markdown line: commit, date, seed, command, versions."""
    if not prov:
        return "_provenance: not recorded_"
    v = prov.get("versions", {})
    versions = ", ".join(f"{k} {x}" for k, x in v.items())
    return (f"_provenance: commit `{str(prov.get('commit', 'unknown'))[:12]}`, {prov.get('date_utc', '?')}, "
            f"seed {prov.get('seed')}, `{prov.get('command', '?')}`; {versions}_")


def to_markdown(result: dict, title: str | None = None) -> str:
    lines = [f"### {title}", ""] if title else []
    lines += ["| task | metric | value | 95% CI (replicates used) | n | better |", "|---|---|---|---|---|---|"]
    every = rows(result)
    for r in every:
        task = r["task"] or "-"
        if r["family"] != ALL:
            continue
        if r["status"] != "ok":
            lines.append(f"| {task} | {r['metric']} | unavailable | {r['status'][len('unavailable: '):]} | | |")
        else:
            unit = f" {r['unit']}" if r["unit"] else ""
            lines.append(f"| {task} | {r['metric']} | {fmt(r['value'])}{unit}{_fit(result, r)} | {interval(r)} | "
                         f"{r['n']} | {r['better']} |")
    lines += family_markdown(every)
    suite = result.get("suite")  # a run's table names its suite; an eval of a benchmark suite describes it
    if isinstance(suite, dict) and suite.get("kind") == "benchmark":  # how the value column is made, in the benchmark's words
        lines += ["", f"{suite['name']} ({suite.get('version')}): {suite.get('protocol')}"]
    prompts = prompt_lines(result)
    if prompts:
        lines += ["", "_" + "; ".join(prompts) + "_"]
    lines += ["", provenance_line(result.get("provenance", {}))]
    return "\n".join(lines) + "\n"


def family_markdown(every: list[dict]) -> list[str]:
    """Per scene family (manifest `label`): one row per task and metric, one column per family, each cell
    `value [lo, hi] (n)`. A benchmark suite's `aspect: category` rows make one such table per aspect. Empty
    when no metric has a breakdown."""
    fams = sorted({r["family"] for r in every if r["family"] != ALL})
    if not fams:
        return []
    aspects = list(dict.fromkeys(f.split(": ", 1)[0] for f in fams)) if all(": " in f for f in fams) else []
    if aspects:  # in the order the suite lists them
        aspects = list(dict.fromkeys(r["family"].split(": ", 1)[0] for r in every if r["family"] != ALL))
        out = []
        for a in aspects:
            mine = [{**r, "family": r["family"].split(": ", 1)[1]} for r in every
                    if r["family"] != ALL and r["family"].split(": ", 1)[0] == a]
            out += [x.replace("Per scene family:", f"Per {a}:") for x in family_markdown(mine)]
        return out
    cells: dict = {}
    for r in every:
        if r["family"] == ALL:
            continue
        if r["status"] != "ok":
            cell = "unavailable"
        else:
            ci = f" [{fmt(r['ci95_low'], 3)}, {fmt(r['ci95_high'], 3)}]" if r["ci95_low"] is not None else ""
            cell = f"{fmt(r['value'])}{ci} ({r['n']})"
        cells.setdefault((r["task"] or "-", r["metric"]), {})[r["family"]] = cell
    lines = ["", "Per scene family: value [95% CI] (clips)", "", "| task | metric | " + " | ".join(fams) + " |",
             "|---|---|" + "---|" * len(fams)]
    lines += [f"| {task} | {metric} | " + " | ".join(c.get(f, "-") for f in fams) + " |" for (task, metric), c in cells.items()]
    return lines


def prompt_lines(result: dict, show: int = 5) -> list[str]:
    """What the screen says of `eval --prompts`: how many clips got a prompt, and the clips with none and the
    prompts with no clip (the first `show` of each; the result file lists them all)."""
    p = result.get("clips", {}).get("pred", {}).get("prompts")
    if not p:
        return []

    def some(ids: list[str]) -> str:
        return ", ".join(ids[:show]) + (f", ... ({len(ids) - show} more in the result file)" if len(ids) > show else "")

    lines = [f"prompts {p['file']}: attached to {p['attached']} of {p['attached'] + len(p['clips_without_prompt'])} clips"]
    if p["clips_without_prompt"]:
        lines.append(f"warning: {_have(p['clips_without_prompt'], 'clip')} no prompt (no caption, transcript or "
                     f"category): {some(p['clips_without_prompt'])}")
    if p["prompts_without_clip"]:
        lines.append(f"warning: {_have(p['prompts_without_clip'], 'prompt id')} no clip in the folder: "
                     f"{some(p['prompts_without_clip'])}")
    return lines


def _have(ids: list, what: str) -> str:
    """`1 clip has` / `3 clips have`."""
    return f"1 {what} has" if len(ids) == 1 else f"{len(ids)} {what}s have"


def write_result(result: dict, path: str | Path) -> list[Path]:
    """`path` is a base: BASE.json, BASE.csv and BASE.md (a .json/.csv/.md suffix of `path` is dropped first,
    so none is written over another), each written atomically, with this machine's folders scrubbed from
    every string (`paths.scrub`). The JSON is strict: NaN or inf is written null. -> the paths."""
    from .paths import atomic_write, scrub
    from .validate import result_paths

    jpath, cpath, mpath = result_paths(path)
    result = scrub(_portable_clips(result))
    return [atomic_write(p, text) for p, text in (
        (jpath, json.dumps(_finite(result), indent=1, default=float, allow_nan=False)), (cpath, to_csv(result)),
        (mpath, to_markdown(result, jpath.stem)))]


def _portable_clips(result: dict) -> dict:
    """The result with each left-out clip's path as files may name it (`paths.portable`; the screen keeps
    the real one): under `clips.<side>.excluded` (eval) and `tasks.<task>.excluded` (run)."""
    from .paths import portable

    def fix(excluded):
        return [{**e, "path": portable(e["path"])} if isinstance(e, dict) and "path" in e else e for e in excluded]

    out = dict(result)
    if "clips" in out:
        out["clips"] = {side: {**info, "excluded": fix(info.get("excluded", []))} if isinstance(info, dict) else info
                        for side, info in out["clips"].items()}
    if "tasks" in out:
        out["tasks"] = {t: {**v, "excluded": fix(v.get("excluded", []))} if isinstance(v, dict) and "excluded" in v else v
                        for t, v in out["tasks"].items()}
    return out


def _finite(obj):
    """NaN and inf (which strict JSON cannot hold) as null; entries carry their reasons beside them."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _verdict(row: dict, k: int) -> str:
    p = row.get("paired")
    if k == 0:
        return "baseline"
    if not p or p[k] is None:
        return "n/a"
    if not p[k]["significant"]:
        return "not significant"
    lo = p[k]["ci95"][0]
    worse = (lo > 0) == (row["better"] in ("lower", "zero"))
    return "significantly " + ("worse" if worse else "better")


def _cells(row: dict, markup: bool) -> list[str]:
    """One cell per entry: the value, and after the first its delta and verdict."""
    cells = []
    for k, v in enumerate(row["values"]):
        if v is None:
            cells.append("unavailable")
        elif k == 0:
            cells.append(f"{v:.4g}")
        else:
            verdict = _verdict(row, k)
            if markup and verdict.startswith("significantly"):
                verdict = f"[{'green' if verdict.endswith('better') else 'red'}]{verdict}[/]"
            boot = (row.get("paired") or [None] * (k + 1))[k]
            used = f", {boot['bootstrap']['used']}/{boot['bootstrap']['replicates']}" if boot and "bootstrap" in boot else ""
            cells.append(f"{v:.4g} ({row['deltas'][k]:+.3g}, {verdict}{used})")
    return cells


def compare_rich(table: dict) -> Table:
    names = table["entries"]
    t = Table("task", "metric", *names, title=f"{table['suite']}: deltas vs {names[0]}, paired bootstrap "
              f"({table['bootstrap']} replicates) over the shared prompts")
    for task, tt in table["tasks"].items():
        for metric, row in tt["metrics"].items():
            t.add_row(task, f"{metric} ({row['better']})", *_cells(row, markup=True))
    return t


def _table_source(prov: dict) -> str:
    """`commit ..., checkpoint sha256 ...` of one compared table; a pseudo-model (ceiling, floor) has no checkpoint."""
    sha = prov.get("checkpoint_sha256")
    return f"commit `{str(prov.get('commit'))[:12]}`, " + (f"checkpoint sha256 `{sha[:12]}`" if sha else "no checkpoint")


def compare_markdown(table: dict) -> str:
    names = table["entries"]
    lines = [f"### {table['suite']}: deltas vs `{names[0]}` (paired bootstrap, {table['bootstrap']} replicates)", "",
             "| task | metric | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for task, tt in table["tasks"].items():
        for metric, row in tt["metrics"].items():
            lines.append(f"| {task} | {metric} ({row['better']}) | " + " | ".join(_cells(row, markup=False)) + " |")
    lines += ["", "Each cell after the first: value (difference to the first, verdict, bootstrap replicates used of those "
              "drawn). Tables compared: " + ", ".join(f"{k} ({_table_source(v)})"
                                                    for k, v in table.get("provenance", {}).get("tables", {}).items()),
              "", provenance_line(table.get("provenance", {}))]
    return "\n".join(lines) + "\n"


def _count(value, what: str) -> str:
    return f"{value} {what}" if value is not None else f"{what} unavailable (not reported by the generator)"


def generation_lines(result: dict) -> list[str]:
    """Per task of a `run` result: clips, sampling time and rate, passes, NFE, peak memory and how measured."""
    out = []
    for task, t in result["tasks"].items():
        g = t["generation"]
        mem = (f"peak GPU memory {g['peak_gpu_mem_gb']:.2f} GB" if "peak_gpu_mem_gb" in g
               else f"peak resident memory {g['peak_rss_gb']:.2f} GB" if "peak_rss_gb" in g else "peak memory not measured")
        out.append(f"{task}: {g['clips']} clips sampled in {g['sample_s']:.1f} s ({g['clips_per_s']:.2f} clips/s on "
                   f"{g['device']}; loading {g['load_s']:.1f} s, conditions {g['condition_s']:.1f} s, decoding and "
                   f"writing {g['write_s']:.1f} s apart), {_count(g['passes_per_step'], 'passes per step')}, "
                   f"{_count(g['nfe_per_clip'], 'network evaluations per clip')}, {mem}"
                   + (f" ({g['memory_measure']})" if g.get("memory_measure") else ""))
    return out


def suites_table(specs: list) -> Table:
    """`ccl-bench list suites`: one row per `SuiteSpec` (rendered) or `BenchmarkSpec` (read from a local copy)."""
    table = Table("suite", "clips", "splits / local copy", "families / aspects", "spec", title="suites")
    for s in specs:
        if getattr(s, "kind", None) == "benchmark":
            table.add_row(s.name, f"yours, named {s.clip_id}", "$" + " or $".join(s.env), ", ".join(a.name for a in s.aspects),
                          str(s.path))
            continue
        rend = ", ".join(f"{r.name} {r.width}x{r.height} {r.fps:g}fps {r.duration:g}s" for r in s.renderings.values())
        table.add_row(s.name, rend, ", ".join(s.splits), ", ".join(s.families), str(s.path))
    return table


def models_table(rows_: list[tuple[str, str, dict]], title: str) -> Table:
    """`ccl-bench list models`: (name, interaction, parameter counts by part) per model."""
    table = Table("model", "interaction", "video params", "audio params", "interaction params", "total", title=title)
    for name, interaction, counts in rows_:
        table.add_row(name, interaction, *(f"{counts[k] / 1e6:,.2f} M" for k in ("video", "audio", "interaction", "total")))
    return table


def generators_table(entries) -> Table:
    """`ccl-bench list generators`: every name `run --model` accepts, its kind and who provides it."""
    table = Table("name", "kind", "provided by", "what it is", title="generators (run --model NAME)")
    for e in entries:
        table.add_row(e.name, e.kind, e.source, e.description or e.record()["target"])
    return table


def metrics_table(metrics) -> Table:
    """`ccl-bench list metrics`: one row per `Metric` record."""
    table = Table("metric", "reads", "needs --ref", "better", "unit", "what it is", title="metrics")
    for m in metrics:
        table.add_row(m.name, m.analysis, "yes" if m.needs_ref else "no", m.better, m.unit or "-", m.description)
    return table


def clips_table(clips: list[tuple[str, object]]) -> Table:
    """`ccl-bench info`: (file, AVClip) per clip."""
    table = Table("file", "frames", "fps", "size", "video s", "audio", "audio s", title="clips")
    for f, c in clips:
        _, h, w, _ = c.video.shape
        table.add_row(str(f), str(c.num_frames), f"{c.fps:g}", f"{w}x{h}", f"{c.video_duration:.3f}",
                      f"{c.audio.shape[0]} ch {c.sample_rate} Hz", f"{c.audio_duration:.3f}")
    return table


def weights_table(entries, folder) -> Table:
    """`ccl-bench weights list`: one row per registered `WeightsFile`, present or not in `folder`."""
    from .weights import path_of

    table = Table("name", "file", "present", "checksum", "used by", "source", title=f"weights in {folder}")
    table.columns[1].overflow = table.columns[3].overflow = table.columns[5].overflow = "fold"  # names, checksums, URLs in full
    for w in entries:
        # a shipped file (the suite-native encoders) is present without being in `folder`
        table.add_row(w.name, w.filename, "yes" if path_of(w.name, folder).is_file() else "no",
                      w.checksum_kind + (f" {w.sha256}" if w.sha256 else ""),
                      w.used_by, w.url or w.source)
    return table


def profile_table(records: list[dict], title: str) -> Table:
    """`ccl-bench profile`: one row per (model, guidance) record of `runner.profile.profile_model`."""
    table = Table("model", "guidance", "params (M) v / a / x", "GFLOP fwd", "check", "fwd ms", "step ms", "peak GB", "MFU",
                  "x share", "passes", "NFE/clip", "s/clip", title=title)
    for r in records:
        if r.get("status") == "oom":
            table.add_row(r["model"], "-", "", "", "", "", "[red]out of memory[/]", *[""] * 6)
            continue
        p = r["params"]
        table.add_row(r["model"], str(r["guidance"] or "-"),
                      f"{p['video'] / 1e6:.1f} / {p['audio'] / 1e6:.1f} / {p['interaction'] / 1e6:.1f}",
                      f"{r['flops_fwd'] / 1e9:,.1f}", f"{r['flops_check']:.3f}", f"{r['fwd_ms']:.1f}" if "fwd_ms" in r else "-",
                      f"{r['step_ms']:.1f}", f"{r['peak_mem_gb']:.1f}" if r.get("peak_mem_gb") else "-",
                      f"{r['mfu']:.1%}" if r.get("mfu") else "-",
                      f"{r['interaction_share']:.1%}" if r.get("interaction_share") is not None and r["model"] != "none" else "-",
                      str(r.get("passes_per_step") or "-"), str(r.get("nfe_per_clip") or "-"),
                      f"{r['sec_per_clip']:.2f}" if r.get("sec_per_clip") else "-")
    return table
