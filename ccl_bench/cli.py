"""`ccl-bench`: a thin face over the registries (suites, models, metrics) and the pipeline: argparse and
dispatch only. Tables come from `ccl_bench.tables`; torch and `reference_impl` are imported by the
commands that need them, never when this module loads (so `ccl-bench --help` is quick).

User errors print one line (`error: <file or name>: <fault>`) and exit 2; `--debug` shows the traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from . import __version__
from .errors import CCLBenchError

out = Console()
if not out.is_terminal:
    out = Console(width=200)  # piped or captured: keep table rows whole rather than 80 columns wide
err = Console(stderr=True)

EXIT_USER_ERROR = 2


SCALES_HELP = ("guidance scales, FIELD=VALUE comma-separated: text (s_t, default 4), modality (s_m, 2), perturbed (s_p, 1), "
               "audio_text and audio_modality (the audio stream's own; default: as video), rescale (0.7)")


def user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, printed as one line: ours, and the model registry's where a command
    loaded it (an error of `reference_impl` cannot arise before it is imported, so looking here does
    not import it)."""
    errors: tuple[type[Exception], ...] = (CCLBenchError,)
    if "reference_impl" in sys.modules:
        from .runner.models import model_errors

        errors += model_errors()
    return errors


def _list(args: argparse.Namespace) -> None:
    from . import tables

    if args.what == "suites":
        from .suites import list_suites, load_any_suite

        out.print(tables.suites_table([load_any_suite(name) for name in list_suites()]))
    elif args.what == "models":
        from .runner.models import describe_models

        rows = describe_models([args.model] if args.model else None, args.scale, parse_sets(args.set))
        title = f"models at scale {args.scale}" + (f" with {', '.join(args.set)}" if args.set else "")
        out.print(tables.models_table(rows, title))
    elif args.what == "generators":
        from .runner.generators import registry

        out.print(tables.generators_table(registry().entries()))
    else:
        from .metrics import METRICS

        out.print(tables.metrics_table(METRICS.values()))


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """`["lct_tokens=32", "tarp_window=5"]` -> overrides (typed later by the model config)."""
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CCLBenchError(f"--set '{item}': use FIELD=VALUE, e.g. --set lct_tokens=32")
        overrides[key.strip()] = value.strip()
    return overrides


def add_model_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--model NAME|ABLATION.yaml and --set FIELD=VALUE, the same on every command that takes a model."""
    p.add_argument("--model", required=required, help="model name (see `ccl-bench list models`) or an ablation YAML")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a model config field (repeatable)")


def _suite_build(args: argparse.Namespace) -> None:
    from .suites import build_suite, load_suite, parse_perturbation

    spec = load_suite(args.suite)
    manifest = build_suite(
        spec, args.out, split=args.split, rendering=args.rendering, num=args.num, seed=args.seed,
        perturbation=parse_perturbation(args.perturb), fmt=args.format, show_progress=not args.quiet,
    )
    out.print(f"wrote {manifest}")


def _info(args: argparse.Namespace) -> None:
    from .io import read_clip
    from .tables import clips_table

    clips = [(f, read_clip(f, backend=args.backend)) for f in args.files]
    out.print(clips_table(clips))
    for f, c in clips:
        for note in c.metadata.get("notes", []):
            out.print(f"{f}: {note}", highlight=False)


def _train(args: argparse.Namespace) -> None:
    from . import validate
    from .distributed import world

    validate.positive_int("--steps", args.steps)
    for option, value in (("--clips", args.clips), ("--batch-size", args.batch_size)):
        if value is not None:
            validate.positive_int(option, value)
    from .runner.train import parse_task_mix, train

    if args.decay_steps is not None and args.decay_steps < 0:
        raise CCLBenchError(f"--decay-steps {args.decay_steps}: give 0 (a constant rate) or more")
    if args.stage == "joint" and not args.model:
        raise CCLBenchError("--model: required (or --stage streams to train the stage-1 streams)")
    overrides = parse_sets(args.set)
    if args.routing:
        overrides["routing"] = args.routing
    streams = tuple(s.strip() for s in args.streams.split(",") if s.strip())
    if not streams or set(streams) - {"video", "audio"}:
        raise CCLBenchError(f"--streams {args.streams}: use video, audio or video,audio")
    out_dir = train(args.model or "none", args.suite, args.scale, args.steps, args.out, seed=args.seed, resume=args.resume,
                    overrides=overrides, num_clips=args.clips, batch_size=args.batch_size, device=args.device,
                    show_progress=not args.quiet, stage=args.stage, streams=streams, init_from=args.init_from,
                    data_seed=args.data_seed, lr=args.lr, lr_cross=args.lr_cross, decay_steps=args.decay_steps,
                    task_probs=parse_task_mix(args.task_mix),
                    compile=args.compile, checkpoint_seconds=args.checkpoint_seconds, text_embeddings=args.text_embeddings)
    if world().main:
        out.print(f"wrote {out_dir}/ema.safetensors, {out_dir}/metrics.jsonl")


def _sample(args: argparse.Namespace) -> None:
    from .runner.sample import generate, parse_scales

    m = generate(args.checkpoint, args.suite, args.task, args.num, args.out, guidance=args.guidance, steps=args.steps,
                 sampler=args.sampler, seed=args.seed, split=args.split, device=args.device, show_progress=not args.quiet,
                 text_embeddings=args.text_embeddings, scales=parse_scales(args.scales))
    out.print(f"wrote {len(m['clips'])} clips to {args.out} ({m['passes_per_step']} passes per step, "
              f"{m['nfe_per_clip']} network evaluations per clip)")


def _eval(args: argparse.Namespace) -> None:
    from . import validate
    from .evaluate import evaluate
    from .tables import rich_table, write_result

    metrics = validate.name_list("--metrics", args.metrics)
    if args.out is not None:
        validate.result_files("--out", args.out)  # before the evaluation, not after it
    from .distributed import world

    if args.suite:
        from .evaluate import evaluate_suite

        for option in ("ref", "prompts", "save_ref_features"):
            if getattr(args, option):
                raise CCLBenchError(f"--{option.replace('_', '-')}: not with --suite {args.suite} (its prompts and references "
                                    "come from its local copy)")
        result = evaluate_suite(args.suite, args.pred, args.bench_root, metrics=metrics, device=args.device,
                                weights_dir=args.weights_dir, cache_dir=args.cache_dir, bootstrap=args.bootstrap,
                                seed=args.seed, show_progress=not args.quiet)
    elif args.bench_root:
        raise CCLBenchError("--bench-root: give --suite too (verse-bench, javisbench, javisbench-mini, t2av-compass)")
    else:
        result = evaluate(args.pred, args.ref, metrics=metrics, protocol=args.protocol, device=args.device,
                          weights_dir=args.weights_dir, cache_dir=args.cache_dir, bootstrap=args.bootstrap, seed=args.seed,
                          show_progress=not args.quiet, prompts=args.prompts, save_ref_features=args.save_ref_features)
    if not world().main:  # under torchrun, rank 0 reports
        return
    title = f"{args.pred}" + (f" vs {args.ref}" if args.ref else "") + (f" on {args.suite}" if args.suite else "")
    out.print(rich_table(result, title=title))
    from .tables import prompt_lines

    for line in prompt_lines(result):
        out.print(line, highlight=False, soft_wrap=True)
    suite = result.get("suite")
    if isinstance(suite, dict) and suite.get("kind") == "benchmark":
        out.print(f"{suite['name']}: headline = {suite['headline'].replace('-', ' ')}"
                  + (f" over {suite['headline_over']}" if suite.get("headline_over") else "")
                  + f"; per-category rows by {', '.join(suite['aspects'])}", highlight=False, soft_wrap=True)
        missing = result["clips"]["pred"].get("missing") or []
        if missing:
            out.print(f"[yellow]pred: {len(missing)} of {suite['prompts']} prompts have no clip[/] (first: {missing[0]['path']})")
    for name, m in result["metrics"].items():  # one line per metric whose weights file is missing
        if m.get("place"):
            out.print(f"{name}: unavailable: place {Path(m['place']).name} at {m['place']} (from {m['source']})",
                      highlight=False, soft_wrap=True)
    for side, info in result["clips"].items():
        if info["excluded"]:
            out.print(f"[yellow]{side}: {len(info['excluded'])} of {info['clips']} clips left out[/]")
            for e in info["excluded"]:
                out.print(f"  {e['path']}: {e['fault']}", highlight=False)
        for wa in info.get("warnings", []):
            out.print(f"[yellow]warning:[/] {wa['path']}: {wa['warning']}", highlight=False)
        for kind, conv in info["conversions"].items():
            for what, count in conv.items():
                out.print(f"{side} {kind}: {what} ({count} clips)", highlight=False)
        if "features_file" in info:
            out.print(f"{side}: features of {info['clips']} clips from {info['features_file']} ({info['format']})",
                      highlight=False)
        for kind, note in info.get("notes", {}).items():
            out.print(f"{side} {kind}: {note}", highlight=False)
    if args.save_ref_features and result["clips"].get("ref", {}).get("saved_features"):
        out.print(f"wrote reference features {args.save_ref_features} (use it as --ref)", highlight=False)
    if args.out:
        paths = write_result(result, args.out)
        out.print("wrote " + ", ".join(str(p) for p in paths))


def _validate_result(args: argparse.Namespace) -> None:
    from .schema import check_result_file

    for f in args.files:
        out.print(check_result_file(f), highlight=False)


def _run(args: argparse.Namespace) -> None:
    from . import validate
    from .distributed import world
    from .suites import load_any_suite
    from .tables import generation_lines, rich_table

    models = validate.name_list("--model", args.model) if not args.model.endswith((".yaml", ".yml")) else [args.model]
    if len(models) > 1 and args.checkpoint:
        raise CCLBenchError("--checkpoint goes with one --model")
    if getattr(load_any_suite(args.suite), "kind", None) == "benchmark":  # prompts from the user's local copy
        _run_benchmark(args, models)
        return
    if args.bench_root:
        raise CCLBenchError(f"--bench-root: suite {args.suite} is rendered by ccl-bench, not read from a local copy")
    from .runner.run import run_models

    kwargs = {"suite": args.suite, "out": args.out, "task": args.task, "guidance": args.guidance, "num_samples": args.num_samples,
              "steps": args.steps, "seed": args.seed, "device": args.device, "checkpoint": args.checkpoint,
              "overrides": parse_sets(args.set), "bootstrap": args.bootstrap, "weights_dir": args.weights_dir,
              "cache_dir": args.cache_dir, "show_progress": not args.quiet, "captions": args.captions,
              "scales": args.scales}
    for result in run_models(models, **kwargs):
        if not world().main:
            continue
        out.print(rich_table(result, title=f"{result['model']} on {result['suite']}"))
        for line in generation_lines(result):
            out.print(line, highlight=False)
        out.print(f"wrote {Path(args.out) / result['suite'] / (result['model'] + '.json')} (+ .csv, .md)", highlight=False)


def _run_benchmark(args: argparse.Namespace, models: list[str]) -> None:
    from .runner.benchmark import run_benchmark
    from .tables import rich_table

    for option in ("checkpoint", "task"):
        if getattr(args, option):
            raise CCLBenchError(f"--{option}: not with --suite {args.suite} (its T2AV prompts go to a generator plugin)")
    for model in models:
        result = run_benchmark(model, args.suite, args.out, args.bench_root, num_samples=args.num_samples, steps=args.steps,
                               guidance=args.guidance, seed=args.seed, device=args.device, overrides=parse_sets(args.set),
                               bootstrap=args.bootstrap, weights_dir=args.weights_dir, cache_dir=args.cache_dir,
                               show_progress=not args.quiet)
        out.print(rich_table(result, title=f"{model} on {args.suite}"))
        g = result["generation"]
        out.print(f"{model}: {g['clips']} clips in {g['sample_s']:.1f} s on {g['device']}", highlight=False)
        out.print(f"wrote {Path(args.out) / args.suite / (model + '.json')} (+ .csv, .md)", highlight=False)


def _compare(args: argparse.Namespace) -> None:
    from . import validate
    from .compare import compare, load_entries
    from .paths import atomic_write, scrub
    from .tables import compare_markdown, compare_rich

    validate.positive_int("--bootstrap", args.bootstrap, allow_zero=True)

    entries = load_entries(args.items, args.results, args.suite)
    table = compare(entries, bootstrap=args.bootstrap, seed=args.seed)
    out.print(compare_rich(table))
    if args.md:
        atomic_write(args.md, compare_markdown(scrub(table)))
        out.print(f"wrote {args.md}")
    if args.plot:
        from .plots import metric_bars

        for task in table["tasks"]:
            path = Path(args.plot) if len(table["tasks"]) == 1 else Path(args.plot).with_stem(f"{Path(args.plot).stem}-{task}")
            metric_bars({e.label: {"metrics": e.result["tasks"][task]["metrics"]} for e in entries if task in e.result["tasks"]},
                        path, title=f"{table['suite']} {task}: values with 95% intervals", provenance=scrub(table["provenance"]))
            out.print(f"wrote {path}")


def _regress(args: argparse.Namespace) -> None:
    from .regress import regress

    report = regress(args.baseline, args.current, args.tolerances)
    for line in report.lines + report.summary():
        out.print(line, highlight=False)
    if not report.ok:
        raise RegressionFailed(f"{len(report.failures)} regression(s) against {args.baseline}")


def _claims(args: argparse.Namespace) -> None:
    from .claims import run_claims

    if args.plan:
        from .claims import load_study
        from .claims.plan import plan

        for line in plan(load_study(args.suite), args.plan, args.runs, missing=args.missing):
            print(line)
        return

    command = f"ccl-bench claims --suite {args.suite} --runs {args.runs} --out {args.out}" + (
        f" --compute {args.compute}" if args.compute != "results/compute" else "")
    from .claims.report import rich_table as claims_table

    v = run_claims(args.suite, args.runs, args.out, args.compute, command, args.check, args.tolerance)
    out.print(claims_table(v))
    out.print(f"wrote {args.out}/README.md" + (f"; verdicts match {args.check}" if args.check else ""))


class RegressionFailed(CCLBenchError):
    exit_code = 1


def _weights(args: argparse.Namespace) -> None:
    from . import weights as W

    if args.action == "list":
        from .tables import weights_table

        out.print(weights_table(W.REGISTRY.values(), W.weights_dir(args.weights_dir)))
        return
    if not args.name:
        raise CCLBenchError(f"weights {args.action}: name a file ({', '.join(W.REGISTRY)})")
    if args.action == "path":
        out.print(str(W.path_of(args.name, args.weights_dir)), highlight=False)
    elif args.action == "verify":
        path, digest, how = W.verify(args.name, args.weights_dir)
        out.print(f"{path}: sha256 {digest} ({how})", highlight=False)
    elif args.action == "fetch":
        path = W.fetch(args.name, args.weights_dir)
        out.print(f"{path}: ready", highlight=False)


def _profile(args: argparse.Namespace) -> None:
    import json

    import torch

    from .profiling import matmul_rate
    from .runner.profile import ClipSize, add_interaction_shares, profile_model

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    clip = ClipSize.parse(args.clip)
    guidance = args.guidance.split(",") if args.guidance else None
    rate = matmul_rate(device)
    records = []
    for name in args.model.split(","):
        records += profile_model(name.strip(), args.scale, args.mode, guidance, args.dtype, args.batch, args.checkpointing,
                                 device, clip, args.audio_rate, args.steps, args.repeats, parse_sets(args.set), rate,
                                 compile_blocks=args.compile)
    add_interaction_shares([r for r in records if "step_ms" in r])
    from .tables import profile_table

    out.print(profile_table(records, f"profile {args.scale} {args.mode} on {device}"))
    out.print(f"measured matmul rate: {rate / 1e12:.1f} TFLOP/s ({'bf16' if device.startswith('cuda') else 'fp32'})")
    if not device.startswith("cuda"):
        out.print("[yellow]CPU timings are not comparable with GPU ones (and MFU here is against a CPU fp32 matmul).[/]")
    if args.out:
        from .paths import atomic_write
        from .provenance import provenance

        atomic_write(args.out, json.dumps({"matmul_flops_per_s": rate, "records": records,
                                           "provenance": provenance(None, {"device": device})}, indent=1))
        out.print(f"wrote {args.out}")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser = argparse.ArgumentParser(prog="ccl-bench", parents=[common], description="Benchmark joint audio-video generators.")
    parser.add_argument("--version", action="version", version=f"ccl-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", parents=[common], help="list suites, models, generators or metrics")
    p.add_argument("what", choices=["suites", "models", "generators", "metrics"],
                   help="generators: every `run --model` name, plugins of installed packages included")
    p.add_argument("--scale", default="tiny", help="model scale for parameter counts (models only)")
    add_model_args(p, required=False)
    p.set_defaults(func=_list)

    p = sub.add_parser("info", parents=[common], help="read clips and show their frames, rates and durations")
    p.add_argument("files", nargs="+", help="mp4/mkv/webm/mov files (audio track or same-stem .wav/.flac)")
    p.add_argument("--backend", choices=["auto", "decord", "pyav"], default="auto", help="video decoder")
    p.set_defaults(func=_info)

    suite = sub.add_parser("suite", parents=[common], help="build benchmark suites")
    ssub = suite.add_subparsers(dest="suite_command", required=True)
    b = ssub.add_parser("build", parents=[common], help="render a suite's clips and manifest.json into a folder")
    b.add_argument("suite", help="suite name (see `ccl-bench list suites`) or path to a suite YAML")
    b.add_argument("--split", help="train or test (default: the suite's)")
    b.add_argument("--rendering", help="native or tiny (default: the suite's)")
    b.add_argument("--num", type=int, help="number of clips (default: the suite's)")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--seed", type=int, help="seed (default: the suite's)")
    b.add_argument("--perturb", help="write perturbed copies: offset=SECONDS, swap, freeze or silence")
    b.add_argument("--format", choices=["mp4", "mkv"], help="container (default: the rendering's)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_suite_build)
    t = sub.add_parser("train", parents=[common], help="train a reference model on a suite's training split")
    add_model_args(t, required=False)
    t.add_argument("--stage", choices=["joint", "streams"], default="joint",
                   help="streams: stage 1, the streams alone (T2V, T2A); joint: a model (stage 2 with --init-from)")
    t.add_argument("--streams", default="video,audio", help="stage 1: which stream(s) this run trains (video, audio)")
    t.add_argument("--init-from", help="stage 2: a stage-1 streams folder (or video,audio folders, comma-separated); "
                   "or a Wan2.1 DiT file (.safetensors/.pth) for the video stream. Stage 1: a stage-1 run of the same "
                   "stream(s), continued from its EMA with a fresh optimizer")
    t.add_argument("--text-embeddings", help="folder of precomputed umT5 embeddings (sha256(caption).safetensors; "
                   "see reference_impl/text.py) instead of the word-hash encoder")
    t.add_argument("--routing", choices=["task", "always", "t2av-only"], help="override the model's routing (so its task mix)")
    t.add_argument("--task-mix", help="task probabilities, e.g. t2av=0.6,t2v=0.1,t2a=0.1,a2v=0.1,v2a=0.1 (default: routing's)")
    t.add_argument("--lr", type=float, help="streams' learning rate (default: stage 1 5e-4, stage 2 5e-5, scratch 3e-4)")
    t.add_argument("--lr-cross", type=float, help="cross-modal learning rate (default: stage 2 10x --lr's default)")
    t.add_argument("--decay-steps", type=int, help="the last N steps take the learning rate linearly down to 0 "
                   "(warmup-stable-decay; a resumed run with a larger --steps decays at its new end; default: constant)")
    t.add_argument("--data-seed", type=int, default=0, help="seed of the rendered training clips (the same for every run)")
    t.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the model (default: on for one CUDA process)")
    t.add_argument("--checkpoint-seconds", type=float, default=60.0, help="write checkpoint.pt at least this often")
    t.add_argument("--suite", default="av-sync")
    t.add_argument("--scale", default="tiny", help="tiny (CPU) or small (one GPU)")
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--out", required=True, help="run folder: metrics.jsonl, checkpoint.pt, ema.safetensors")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--clips", type=int, help="training clips to render (default: 64 tiny, 2048 small)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", parents=[common], help="generate clips with a trained model")
    s.add_argument("--text-embeddings", help="folder of precomputed umT5 embeddings (as for train)")
    s.add_argument("--model", help="model name (informational; the checkpoint's config decides)")
    s.add_argument("--checkpoint", required=True, help="a `ccl-bench train` output folder")
    s.add_argument("--suite", default="av-sync")
    s.add_argument("--task", default="t2av", help="t2av, a2v, v2a, t2v or t2a")
    s.add_argument("--num", type=int, default=8)
    s.add_argument("--out", required=True)
    s.add_argument("--guidance", default="ucg", choices=["ucg", "ucg-joint", "cfg", "ltx2", "ovi-native", "ltx2-native"])
    s.add_argument("--scales", metavar="FIELD=VALUE,...", help=SCALES_HELP)
    s.add_argument("--steps", type=int, default=25)
    s.add_argument("--sampler", default="euler", choices=["euler", "heun"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--split", default="test")
    s.add_argument("--device")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_sample)

    e = sub.add_parser("eval", parents=[common], help="compute metrics over a folder of clips")
    e.add_argument("--pred", required=True, help="the clips to evaluate: a suite folder (manifest.json) or a folder of clips")
    e.add_argument("--ref", help="reference clips (a folder) or reference features (a .npz from --save-ref-features, or "
                   "JavisBench's FVD/FAD cache .pt), for the distribution metrics (FVD, KVD, FAD)")
    e.add_argument("--prompts", help="CSV or JSONL with id,caption[,transcript][,category] (id = a clip's file stem): "
                   "captions for the text metrics, categories for the per-category rows")
    e.add_argument("--save-ref-features", metavar="FILE.npz", help="write the --ref folder's feature rows (with their "
                   "backbone, weights checksum and preset), to pass as --ref FILE later")
    e.add_argument("--suite", help="a benchmark read from your local copy: verse-bench, javisbench, javisbench-mini, "
                   "t2av-compass (clips in --pred named by its ids; prompts, categories and metric list from the suite)")
    e.add_argument("--bench-root", help="the benchmark's local copy (default: the suite's environment variable, "
                   "e.g. $CCL_BENCH_JAVISBENCH)")
    e.add_argument("--metrics", help="comma-separated (see `ccl-bench list metrics`; default: all, or the --suite's list)")
    e.add_argument("--protocol", default="videogpt", help="FVD/KVD preset: videogpt, javisbench, cd-fvd, stylegan-v")
    e.add_argument("--out", help="result file base: BASE.json, BASE.csv and BASE.md (a .json/.csv/.md suffix is dropped)")
    e.add_argument("--weights-dir", help="folder holding the metric weights (default: $CCL_BENCH_HOME/weights)")
    e.add_argument("--cache-dir", help="feature cache (default: $CCL_BENCH_HOME/features)")
    e.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for the 95%% intervals (0: none)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_eval)

    v = sub.add_parser("validate-result", parents=[common], help="check result files against the result schema")
    v.add_argument("files", nargs="+", help="result JSON files (`eval --out`, `run`)")
    v.set_defaults(func=_validate_result)

    r = sub.add_parser("run", parents=[common], help="the main job: generate with a reference model, evaluate, profile")
    add_model_args(r)
    r.add_argument("--suite", default="av-sync", help="a rendered suite (av-sync) or a benchmark read from your local copy "
                   "(verse-bench, javisbench, javisbench-mini, t2av-compass: with a generator plugin)")
    r.add_argument("--bench-root", help="the benchmark's local copy (default: the suite's environment variable)")
    r.add_argument("--task", help="t2av, a2v, v2a, t2v, t2a, a comma list of them (one table) or all (default: the suite's)")
    r.add_argument("--guidance", choices=["ucg", "ucg-joint", "cfg", "ltx2", "ovi-native", "ltx2-native"],
                   help="default: the suite's")
    r.add_argument("--scales", metavar="FIELD=VALUE,...", help=SCALES_HELP)
    r.add_argument("--num-samples", type=int, help="prompts of the suite's test split (default: the suite's)")
    r.add_argument("--steps", type=int, help="sampling steps (default: the suite's)")
    r.add_argument("--seed", type=int)
    r.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    r.add_argument("--checkpoint", help="a `ccl-bench train` folder (default: the shipped checkpoint of the model)")
    r.add_argument("--out", default="runs", help="tables in OUT/<suite>/<model>.json|csv|md, clips under OUT/<suite>/clips")
    r.add_argument("--bootstrap", type=int, default=200)
    r.add_argument("--captions", choices=["own", "mismatched"], default="own",
                   help="prompt captions: each prompt's own, or another family's (text and condition disagree; claim 4)")
    r.add_argument("--weights-dir")
    r.add_argument("--cache-dir")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_run)

    c = sub.add_parser("compare", parents=[common], help="side-by-side metric tables with paired significance")
    c.add_argument("items", nargs="+", help="result files (<suite>/<model>.json) or model names (looked up in --results)")
    c.add_argument("--results", default="results", help="folder of committed results, for model names")
    c.add_argument("--suite", default="av-sync")
    c.add_argument("--bootstrap", type=int, default=1000, help="paired bootstrap replicates over the shared prompts")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--md", help="write the table as Markdown")
    c.add_argument("--plot", help="write a PNG bar plot with the intervals")
    c.set_defaults(func=_compare)

    g = sub.add_parser("regress", parents=[common], help="fail when metrics moved past their committed tolerances")
    g.add_argument("--baseline", default="results", help="committed result folder (<suite>/<model>.json)")
    g.add_argument("--current", required=True, help="a fresh result folder of the same layout")
    g.add_argument("--tolerances", help="YAML of per-suite, per-metric tolerances (default: BASELINE/tolerances.yaml)")
    g.set_defaults(func=_regress)

    cl = sub.add_parser("claims", parents=[common], help="verdicts on the CCL paper's claims from a run matrix",
                        description="Layout of --runs: seed<k>/[<variant>/]<suite>/<model>.json (`ccl-bench run --out "
                        "RUNS/seed<k>`), seed<k>/step<N>/... (snapshots), seed<k>/measures/<measure>/<model>.json.")
    cl.add_argument("--suite", default="av-sync", help="the study of this suite (benchmarks/claims/<suite>.yaml) or a YAML path")
    cl.add_argument("--runs", default="runs", help="the run matrix folder")
    cl.add_argument("--compute", default="results/compute", help="profiler records for the compute claim")
    cl.add_argument("--out", default="results/claims", help="README.md, verdicts.json and per-claim pages")
    cl.add_argument("--check", help="a committed verdicts.json: fail if a verdict or interval bound moved")
    cl.add_argument("--tolerance", type=float, default=1e-6, help="allowed move of a bound, as a share of the interval width")
    cl.add_argument("--plan", metavar="CHECKPOINTS", help="print the commands that make the runs (CHECKPOINTS/seed<k>/<model>)")
    cl.add_argument("--missing", action="store_true", help="with --plan: only the runs and measures --runs lacks")
    cl.set_defaults(func=_claims)

    pr = sub.add_parser("profile", parents=[common], help="compute, memory and time of reference models (random weights)")
    pr.add_argument("--model", required=True, help="NAME[,NAME...]")
    pr.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a model config field (repeatable)")
    pr.add_argument("--scale", default="tiny", help="tiny, small, wan-1.3b or wan-14b")
    pr.add_argument("--clip", default="352x640x5s", help="HEIGHTxWIDTHxSECONDS at Wan scales (Wan VAE latents)")
    pr.add_argument("--audio-rate", type=float, default=31.25, help="audio latent frames per second at Wan scales")
    pr.add_argument("--mode", choices=["train", "sample"], default="train")
    pr.add_argument("--guidance", help="sample mode: schemes (default: ucg,ucg-joint,cfg,ltx2)")
    pr.add_argument("--steps", type=int, default=50, help="sampling steps per clip (sample mode)")
    pr.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    pr.add_argument("--batch", type=int, default=1)
    pr.add_argument("--checkpointing", action="store_true", help="activation checkpointing of every layer")
    pr.add_argument("--compile", action="store_true", help="compiled regions (torch.compile per block stage)")
    pr.add_argument("--repeats", type=int, default=5)
    pr.add_argument("--device")
    pr.add_argument("--out", help="records as JSON")
    pr.set_defaults(func=_profile)

    w = sub.add_parser("weights", parents=[common], help="metric weights: list, path, verify, fetch")
    w.add_argument("action", choices=["list", "path", "verify", "fetch"])
    w.add_argument("name", nargs="?", help="registry name (see `ccl-bench weights list`)")
    w.add_argument("--weights-dir")
    w.set_defaults(func=_weights)
    return parser


def _leave_process_group() -> None:
    if "torch" not in sys.modules:  # nothing ran that could have joined a process group
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    from .provenance import set_command

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    set_command(argv)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
        _leave_process_group()
    except Exception as exc:
        if args.debug or not isinstance(exc, user_errors()):
            raise
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return getattr(exc, "exit_code", EXIT_USER_ERROR)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
