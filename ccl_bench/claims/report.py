"""The claims study's pages: `README.md` (one table of every comparison), `verdicts.json` (what CI
recomputes), and per claim `<slug>.json|csv|md|png`; and the check against committed verdicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import CCLBenchError
from .spec import StudySpec
from .study import ClaimResult, _csv_rows, dump_json, write_csv


def _num(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.3g}" if abs(x) < 1e5 else f"{x:.3e}"


def _diff_cell(o: dict) -> str:
    if o["difference"] is None:
        return "-"
    ci = o["ci95"]
    return f"{_num(o['difference'])} [{_num(ci[0])}, {_num(ci[1])}]" if ci else _num(o["difference"])


def _status_cell(o: dict) -> str:
    return f"**{o['status']}**" + (f" ({o['reason']})" if o["status"] in ("not run", "unavailable") and o["reason"] else "")


def write_report(spec: StudySpec, results: list[ClaimResult], out: Path, command: str, runs: str,
                 frames: list[dict] | None = None) -> dict:
    from ..provenance import provenance

    out.mkdir(parents=True, exist_ok=True)
    prov = provenance(spec.seed, {"command": command})
    verdicts = {"suite": spec.suite, "study": Path(spec.path).name, "command": command, "runs": runs,
                "min_seeds": spec.min_seeds, "replicates": spec.replicates, "level": spec.level, "seed": spec.seed,
                "provenance": prov, "frames": frames or [], "claims": []}
    lines = [f"# The claims study: {spec.suite}", "",
             f"Every claim of the CCL paper (arXiv 2603.18600) as pre-registered in `{Path(spec.path).name}` "
             "(`../shared/brief/claims.md`): the verdict of each comparison on its primary metric, by a paired, "
             f"hierarchical bootstrap over training seeds and prompts ({spec.replicates} replicates, {spec.level:.0%} "
             f"interval, at least {spec.min_seeds} training seeds per side). **supported**: the interval of "
             "(treatment - comparator) excludes 0 in the claimed direction; **contradicted**: the other way; "
             "**inconclusive**: otherwise; **not run**: the runs the comparison needs are missing (it says which).", "",
             "Reproduce every number on this page:", "", "```", command, "```", "",
             "| claim | comparison | primary metric (better) | difference [95% interval] | verdict | details |",
             "|---|---|---|---|---|---|"]
    for r in results:
        c = r.claim
        pj = {"id": c.id, "name": c.name, "claim": c.text, "primary": c.primary.label, "better": c.primary.better,
              "description": c.primary.description, "design": list(c.design), "comparisons": [x.to_json() for x in r.comparisons],
              "splits": [x.to_json() for x in r.splits]}
        verdicts["claims"].append(pj)
        dump_json({**pj, "command": command, "provenance": prov}, out / f"{r.slug}.json")
        write_csv(_csv_rows(r), out / f"{r.slug}.csv")
        plot = _plot(r, out / f"{r.slug}.png", prov)
        (out / f"{r.slug}.md").write_text(_claim_page(r, pj, command, plot))
        for x in pj["comparisons"]:
            lines.append(f"| {c.id}. {c.text} | {x['treatment']} vs {x['comparator']} | {c.primary.label} ({c.primary.better}) "
                         f"| {_diff_cell(x)} | {_status_cell(x)} | [table]({r.slug}.md)"
                         + (f", [plot]({plot.name})" if plot else "") + " |")
    splits = [(r.slug, c, x) for r, c in zip(results, verdicts["claims"], strict=True) for x in c["splits"]]
    if splits:
        lines += ["", "## Splits: the parts of a comparison's difference (reported; they decide nothing)", "",
                  "Consecutive parts chain the treatment to the comparator, so on the same seeds and prompts they add up to "
                  "the comparison's difference (a baseline's `-mt` variant is the baseline trained with CCL's five-task "
                  "routing: `claims.md`, the protocol).", "",
                  "| claim | part | comparison | primary metric | difference [95% interval] | details |",
                  "|---|---|---|---|---|---|"]
        for slug, c, x in splits:
            lines.append(f"| {c['id']} | {x['part']} | {x['treatment']} vs {x['comparator']} | {c['primary']} | {_diff_cell(x)}"
                         + (f" ({x['status']}: {x['reason']})" if x["status"] in ("not run", "unavailable") else "")
                         + f" | [table]({slug}.md) |")
    lines += ["", "## Ceiling vs floor: can each primary metric decide?", "",
              "A metric that cannot tell the ceiling (the suite's clips through the codecs) from the floor (noise) "
              "decides nothing (`claims.md`): a verdict on such a metric is reported inconclusive.", "",
              "| metric | tasks | ceiling - floor [95% interval] | separates |", "|---|---|---|---|"]
    for f in frames or []:
        lines.append(f"| {f['metric']} | {', '.join(f['tasks'])} | {_diff_cell(f)} | {_status_cell(f)} |")
    lines += ["", "## What this study cannot show", ""] + [f"- {x.text}" for x in spec.cannot_show if x.applies(runs)]
    lines += ["", "## The [design] readings the verdicts rest on", ""] + [f"- {x}" for x in spec.design]
    for r in results:
        lines += [f"- claim {r.claim.id}: {x}" for x in r.claim.design]
    lines += ["", "Per-claim files: `<claim>.json` (everything), `.csv` (primary and secondary rows), `.md`, `.png`; "
              "`verdicts.json` is the baseline `tox -e claims` recomputes.", ""]
    (out / "README.md").write_text("\n".join(lines))
    dump_json(verdicts, out / "verdicts.json")
    return verdicts


def rich_table(verdicts: dict):
    """The README's table for the terminal."""
    from rich.table import Table

    table = Table("claim", "comparison", "primary metric", "difference [95%]", "verdict", title=f"claims: {verdicts['suite']}")
    for c in verdicts["claims"]:
        for x in c["comparisons"]:
            table.add_row(str(c["id"]), f"{x['treatment']} vs {x['comparator']}", c["primary"], _diff_cell(x),
                          x["status"] + (f": {x['reason']}" if x["status"] in ("not run", "unavailable") else ""))
    return table


def _claim_page(r: ClaimResult, pj: dict, command: str, plot: Path | None) -> str:
    c = r.claim
    lines = [f"# Claim {c.id}: {c.text}", "", f"Primary metric: **{c.primary.label}** ({c.primary.better} is better)"
             + (f": {c.primary.description}" if c.primary.description else "") + ".", "",
             "| comparison | metric | role | treatment | comparator | difference [95% interval] | verdict | seeds | units "
             "| note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for x in pj["comparisons"]:
        rows = [(x, c.primary.label, "primary")] + [(s, s["metric"], "secondary") for s in x["secondary"]]
        for o, metric, role in rows:
            status = o["status"] if role == "primary" or o["status"] in ("not run", "unavailable") else "reported"
            lines.append(f"| {x['treatment']} vs {x['comparator']} | {metric} | {role} | {_num(o['treatment_value'])} | "
                         f"{_num(o['comparator_value'])} | {_diff_cell(o)} | {status} | {', '.join(o['seeds']) or '-'} | "
                         f"{o['units']} | "
                         f"{o['reason'] or ''} |")
    for x in pj["splits"]:
        lines.append(f"| {x['treatment']} vs {x['comparator']} | {c.primary.label} | split: {x['part']} | "
                     f"{_num(x['treatment_value'])} | {_num(x['comparator_value'])} | {_diff_cell(x)} | {x['status']} | "
                     f"{', '.join(x['seeds']) or '-'} | {x['units']} | {x['reason'] or ''} |")
    if plot:
        lines += ["", f"![{r.slug}]({plot.name})"]
    if c.design:
        lines += ["", "[design] readings:", ""] + [f"- {x}" for x in c.design]
    lines += ["", "Command:", "", "```", command, "```", ""]
    return "\n".join(lines)


def _plot(r: ClaimResult, path: Path, prov: dict) -> Path | None:
    """Differences with their intervals per comparison (coloured by verdict); claim 6's convergence
    curves and claim 2's attention shares beside them where the runs exist."""
    from ..plots import _plt, _save, _titled

    prim = r.claim.primary
    parts = list(prim.parts) or [prim]
    diffs = []  # per primary part: (part, [(comparison, its outcome)]) with a difference to show
    for k, part in enumerate(parts):
        rows = [(x, x.outcome.parts[k] if prim.parts else x.outcome) for x in r.comparisons
                if (x.outcome.parts[k] if prim.parts and x.outcome.parts else x.outcome).difference is not None]
        if not prim.parts:  # the splits beside the comparisons they divide
            rows += [(x, x.outcome) for x in r.splits if x.outcome.difference is not None]
        if rows:
            diffs.append((part, rows))
    curves = r.extra.get("curves") or {}
    measures = r.extra.get("measures") or {}
    panels = [("diff", d) for d in diffs] + [(p, None) for p, on in (("curves", any(curves.values())), ("measures", any(
        v is not None for m in measures.values() for v in m.values()))) if on]
    if not panels:
        return None
    plt = _plt()
    n_rows = max([len(d[1]) for kind, d in panels if kind == "diff"] + [len(r.comparisons), 3])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 0.5 + 0.45 * n_rows), squeeze=False)
    colour = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:grey", "reported": "tab:blue"}
    for ax, (panel, data) in zip(axes[0], panels, strict=True):
        if panel == "diff":
            part, rows = data
            for i, (_, o) in enumerate(rows):
                lo, hi = o.ci or (o.difference, o.difference)
                ax.errorbar([o.difference], [i], xerr=[[o.difference - lo], [hi - o.difference]], fmt="o", capsize=3,
                            color=colour.get(o.status, "black"))
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(range(len(rows)), [("split: " if x.part else "") + f"{x.treatment.label} - {x.comparator.label}"
                                             for x, _ in rows], fontsize=7)
            ax.set_xlabel(f"{part.label} difference ({part.better} is better)", fontsize=8)
        elif panel == "curves":
            for label, by_seed in curves.items():
                for k, (_, pts) in enumerate(sorted(by_seed.items())):
                    pts = [(s, v) for s, v in pts if v is not None]
                    ax.plot([s for s, _ in pts], [v for _, v in pts], marker=".", alpha=0.7,
                            label=label if k == 0 else None, color=f"C{list(curves).index(label)}")
            p = r.claim.primary
            ax.axhline(p.level, ls="--", color="black", lw=0.8)
            ax.set_xlabel("training step", fontsize=8)
            ax.set_ylabel(f"{p.name} ({', '.join(p.tasks)})", fontsize=8)
            ax.legend(fontsize=7)
        else:
            names = list(measures)
            models = sorted({m for v in measures.values() for m in v})
            width = 0.8 / len(names)
            for j, n in enumerate(names):
                ax.bar([i + j * width for i in range(len(models))], [measures[n].get(m) or 0 for m in models], width, label=n)
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models, fontsize=7)
            ax.set_ylabel("mean over seeds", fontsize=8)
            ax.legend(fontsize=7)
    return _save(_titled(fig, f"claim {r.claim.id}: {r.claim.text}"), path, 110, prov)


def _flat(verdicts: dict) -> dict:
    """(claim, treatment, comparator, part) -> outcome, the parts of an all-must-agree primary included."""
    out = {}
    for c in verdicts["claims"]:
        for x in c["comparisons"]:
            out[(c["id"], x["treatment"], x["comparator"], "")] = x
            for i, part in enumerate(x.get("parts") or []):
                out[(c["id"], x["treatment"], x["comparator"], f"part {i + 1}")] = part
        for x in c.get("splits") or []:
            out[(c["id"], x["treatment"], x["comparator"], f"split: {x['part']}")] = x
    return out


class VerdictsMoved(CCLBenchError):
    exit_code = 1  # a failed check, not bad input


def check_verdicts(current: dict, baseline: str | Path, tolerance: float) -> None:
    """Raise when a comparison's verdict changed or an interval bound moved by more than `tolerance`
    times the baseline interval's width (or `tolerance` absolute for a point interval)."""
    p = Path(baseline)
    if not p.is_file():
        raise CCLBenchError(f"{p}: committed verdicts not found")
    try:
        old = _flat(json.loads(p.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CCLBenchError(f"{p}: not a claims verdicts file ({type(exc).__name__}: {exc})") from None
    faults = []
    now = _flat(current)
    for key in sorted(set(old) | set(now), key=str):
        a, b = old.get(key), now.get(key)
        name = f"claim {key[0]} {key[1]} vs {key[2]}" + (f" [{key[3]}]" if key[3] else "")
        if a is None or b is None:
            faults.append(f"{name}: {'new' if a is None else 'gone'}")
            continue
        if a["status"] != b["status"]:
            faults.append(f"{name}: {a['status']} -> {b['status']}")
            continue
        if a["ci95"] and b["ci95"]:
            width = abs(a["ci95"][1] - a["ci95"][0])
            scale = width if width > 0 else max(abs(a["ci95"][0]), 1.0)  # a point interval (an exact count): relative
            for i, bound in enumerate(("low", "high")):
                if abs(a["ci95"][i] - b["ci95"][i]) > tolerance * scale:
                    faults.append(f"{name}: ci95 {bound} {a['ci95'][i]:.6g} -> {b['ci95'][i]:.6g}")
    if faults:
        raise VerdictsMoved(f"{p}: verdicts moved: " + "; ".join(faults))
