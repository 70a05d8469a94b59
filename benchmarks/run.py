"""Speed and memory benchmarks, printed as ratios against Hugging Face baselines measured in the same run.

    python benchmarks/run.py            # full: 1,000 pairs, MiniLM vs the pipeline at batch sizes 1/8/32/64, the
                                        # default model, analyze() of a page, training, a 100,000-pair memory run
    python benchmarks/run.py --smoke    # seconds: tiny model, a few pairs (run by the tests)

Writes benchmarks/results.json and refreshes the results table in README.md (full runs only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from peacestance.encoding import encode_pairs  # noqa: E402
from peacestance.schema import LABELS, TARGETS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"
README = ROOT / "README.md"
VARIANTS = ("fp32", "bf16", "onnx_fp32", "onnx_int8")


def bench_inputs(n: int, processed: Path) -> tuple[list[str], list[str]]:
    """n (sentence, phrase) pairs: every test sentence against every target, or generated text."""
    test = processed / "test.parquet"
    if test.is_file():
        import pandas as pd

        sentences = list(dict.fromkeys(pd.read_parquet(test)["sentence"]))
    else:
        rng = np.random.default_rng(0)
        words = "the coalition said troops would deploy after a ceasefire while Moscow rejected any foreign force".split()
        sentences = [" ".join(rng.choice(words, rng.integers(8, 40))) + "." for _ in range(n)]
    pairs = [(s, p) for s in sentences for p in TARGETS.values()]
    pairs = (pairs * (n // len(pairs) + 1))[:n]
    return [s for s, _ in pairs], [p for _, p in pairs]


def ensure_model(smoke: bool, model_dir: Path | None) -> Path:
    """A cross-encoder folder (MiniLM; tiny when smoke): the one given if it is one, else untrained (speed needs no weights)."""
    from peacestance.config import compose
    from peacestance.models.cross_encoder import CrossEncoder, build_network, build_tokenizer

    if model_dir and (model_dir / "peacestance.json").is_file() and (model_dir / "config.json").is_file():
        return model_dir
    cfg = compose(["model=tiny"] if smoke else ["model=minilm"])
    model = CrossEncoder(cfg.model)
    model.tokenizer = build_tokenizer(cfg.model)
    model.network = build_network(cfg.model, model.tokenizer, model.labels)
    out = Path(tempfile.mkdtemp(prefix="bench-model-"))
    model.save(out, {"model_name": cfg.model.name, "max_length": int(cfg.model.max_length)})
    return out


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def matmul_gflops() -> float:
    import torch

    a, b = torch.randn(2048, 384), torch.randn(384, 1536)
    n = 20
    torch.matmul(a, b)
    start = time.perf_counter()
    for _ in range(n):
        torch.matmul(a, b)
    return 2 * 2048 * 384 * 1536 * n / (time.perf_counter() - start) / 1e9


PIPELINE_BATCH_SIZES = (1, 8, 32, 64)


def pipeline_dtypes() -> tuple[str, ...]:
    """The precisions the pipeline baseline is given: bf16 too where the CPU computes it natively.

    Predictor serves in bf16 on such CPUs, so a baseline held to fp32 there would be a handicapped one.
    """
    from peacestance.runtime import cpu_has_bf16

    return ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)


def hf_pipeline(model_dir: Path, dtype: str):
    """transformers.pipeline on the cross-encoder, its weights cast to ``dtype`` (as a user would with torch_dtype)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    return pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(str(model_dir)),
                    device="cpu", top_k=None)


def bench_pipeline(model_dir: Path, sentences: list[str], phrases: list[str], repeats: int) -> dict:
    """transformers.pipeline at each batch size and precision a user would try; the fastest is the baseline.

    fp32 rows are ``batch_size_<n>``, bf16 rows ``bf16_batch_size_<n>``; ``best_fp32`` is the fastest fp32 row,
    the baseline of the runs before session 13.
    """
    inputs = [{"text": s, "text_pair": p} for s, p in zip(sentences, phrases)]
    rows = {}
    for dtype in pipeline_dtypes():
        pipe = hf_pipeline(model_dir, dtype)
        for bs in PIPELINE_BATCH_SIZES:
            t = timed(lambda: pipe(inputs, batch_size=bs), repeats)
            key = f"batch_size_{bs}" if dtype == "fp32" else f"{dtype}_batch_size_{bs}"
            rows[key] = {"batch_size": bs, "dtype": dtype, "pairs_per_s": len(inputs) / t}
    best = max(rows.values(), key=lambda r: r["pairs_per_s"])
    best_fp32 = max((r for r in rows.values() if r["dtype"] == "fp32"), key=lambda r: r["pairs_per_s"])
    return {**rows, "best": dict(best), "best_fp32": dict(best_fp32)}


def bench_predict(model_dir: Path, sentences: list[str], phrases: list[str], repeats: int, batch_size: int,
                  default_dir: Path | None, extra: dict[str, Path] | None = None) -> dict:
    """The MiniLM cross-encoder's predict paths and the default model, against the best-batched pipeline."""
    from peacestance.predict import Predictor

    n = len(sentences)
    results: dict[str, dict] = {"hf_pipeline": bench_pipeline(model_dir, sentences, phrases, repeats)}
    base = results["hf_pipeline"]["best"]["pairs_per_s"]

    reference = None
    variants = [("fp32", {"precision": "fp32"}), ("bf16", {"precision": "bf16"}), ("onnx_fp32", {"backend": "onnx"}),
                ("onnx_int8", {"backend": "onnx", "precision": "int8"})]
    for name, kwargs in variants:
        try:
            predictor = Predictor(model_dir, batch_size=batch_size, device="cpu", **kwargs)
        except ValueError as exc:
            results[name] = {"skipped": str(exc)}
            continue
        predictor.score_pairs(sentences[:8], phrases[:8])  # build (export, quantise) outside the timing
        probs = {}
        t = timed(lambda: probs.__setitem__("p", predictor.score_pairs(sentences, phrases)), repeats)
        labels = probs["p"].argmax(1)
        if reference is None:
            reference = labels
        results[name] = {"pairs_per_s": n / t, "agreement_with_fp32": float((labels == reference).mean()),
                         "ratio_to_best_pipeline": n / t / base}
    if default_dir is not None:  # the model `make train` gives (an mpnet head by default): one encoder pass a sentence
        reference_default = None  # fp32 first: the agreement reference; "default_model" is what Predictor() picks (auto)
        for name, precision in (("default_model_fp32", "fp32"), ("default_model_bf16", "bf16"), ("default_model", "auto")):
            try:
                predictor = Predictor(default_dir, batch_size=batch_size, device="cpu", precision=precision)
            except ValueError as exc:
                results[name] = {"skipped": str(exc)}
                continue
            predictor.score_pairs(sentences[:8], phrases[:8])
            probs = {}
            t = timed(lambda: probs.__setitem__("p", predictor.score_pairs(sentences, phrases)), repeats)
            labels = probs["p"].argmax(1)
            reference_default = labels if reference_default is None else reference_default
            results[name] = {"model": predictor.meta.get("model_name"), "kind": predictor.kind, "precision": predictor.precision,
                             "asked": precision,
                             "pairs_per_s": n / t, "ratio_to_best_pipeline": n / t / base,
                             "agreement_with_fp32": float((labels == reference_default).mean())}

    for name, folder in (extra or {}).items():  # other trained recipes (--extra-model), on their default path
        predictor = Predictor(folder, batch_size=batch_size, device="cpu")
        predictor.score_pairs(sentences[:8], phrases[:8])
        t = timed(lambda: predictor.score_pairs(sentences, phrases), repeats)
        results[f"extra:{name}"] = {"model": predictor.meta.get("model_name"), "precision": predictor.precision,
                                    "pairs_per_s": n / t, "ratio_to_best_pipeline": n / t / base}

    predictor = Predictor(model_dir, batch_size=batch_size, device="cpu", precision="fp32")
    lat = []
    for s, p in list(zip(sentences, phrases))[:200]:
        start = time.perf_counter()
        predictor.score_pairs([s], [p])
        lat.append((time.perf_counter() - start) * 1000)
    results["latency_ms"] = {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95))}

    tok = predictor._scorer.tokenizer
    tokens = np.mean([len(ids) for ids in encode_pairs(tok, sentences, phrases, 128)["input_ids"]])
    gflops = matmul_gflops()
    params = sum(p.numel() for n_, p in predictor._scorer.network.named_parameters() if "embeddings" not in n_)
    bound = gflops * 1e9 / (2 * params * tokens)
    results["compute_bound"] = {"matmul_gflops_fp32": gflops, "mean_tokens_per_pair": float(tokens),
                                "nonembedding_params": int(params), "fp32_bound_pairs_per_s": bound,
                                "fp32_share_of_bound": results["fp32"]["pairs_per_s"] / bound}
    return results


def bench_analyze(model_dir: Path, default_dir: Path | None, sentences: list[str], repeats: int,
                  pipeline_best: dict, extra: dict[str, Path] | None = None) -> dict:
    """analyze() of a 40-sentence page (every target on every sentence) vs the pipeline over the same pairs.

    The pipeline runs at the batch size and precision that were fastest for predict.
    """
    from peacestance.predict import Predictor

    page_sentences = sentences[:40]
    page = "A page title\n\n" + "\n\n".join(page_sentences)
    phrases = list(TARGETS.values())
    pairs = [{"text": s, "text_pair": p} for s in page_sentences for p in phrases]
    pipe = hf_pipeline(model_dir, pipeline_best.get("dtype", "fp32"))
    t_pipe = timed(lambda: pipe(pairs, batch_size=pipeline_best["batch_size"]), repeats)
    out = {"page_sentences": len(page_sentences), "targets": len(phrases),
           "hf_pipeline": {"batch_size": pipeline_best["batch_size"], "dtype": pipeline_best.get("dtype", "fp32"),
                           "sentences_per_s": len(page_sentences) / t_pipe}}
    timed_models = [("minilm_fp32", model_dir, "fp32"), ("default_model", default_dir, "auto"),
                    *((f"extra:{name}", folder, "auto") for name, folder in (extra or {}).items())]
    for name, folder, precision in timed_models:
        if folder is None:
            continue
        predictor = Predictor(folder, device="cpu", precision=precision)
        found = predictor.analyze(page)["sentences"]
        t = timed(lambda: predictor.analyze(page), repeats)
        out[name] = {"sentences_found": found, "sentences_per_s": found / t, "precision": predictor.precision,
                     "ratio_to_pipeline": (found / t) / out["hf_pipeline"]["sentences_per_s"]}
    return out


def bench_training(sentences: list[str], phrases: list[str], smoke: bool) -> dict:
    """Samples/s of the HF Trainer's defaults vs. this project's settings, same model and data."""
    import pandas as pd
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from peacestance.config import compose
    from peacestance.models.cross_encoder import build_network, build_tokenizer
    from peacestance.schema import LABEL2ID

    cfg = compose(["model=tiny"] if smoke else ["model=minilm"])
    tok = build_tokenizer(cfg.model)
    labels = [LABELS[i % 3] for i in range(len(sentences))]
    enc = encode_pairs(tok, sentences, phrases, cfg.model.max_length)
    data = Dataset.from_dict({**enc, "labels": [LABEL2ID[y] for y in labels], "length": [len(x) for x in enc["input_ids"]]})
    out = {}
    from peacestance.runtime import cpu_has_bf16

    grouped = {"train_sampling_strategy": "group_by_length", "length_column_name": "length"}
    settings = {"hf_trainer_default": {}, "peacestance": grouped}
    if cpu_has_bf16():  # emulated bf16 is slower than fp32: measure it only where the CPU has the instructions
        settings["peacestance_bf16"] = {**grouped, "bf16": True}
    for name, extra in settings.items():
        torch.manual_seed(0)
        model = build_network(cfg.model, tok, LABELS)
        args = TrainingArguments(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=32, num_train_epochs=1,
                                 report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
                                 logging_strategy="no", **extra)
        try:
            trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorWithPadding(tok))
            result = trainer.train()
        except (ValueError, RuntimeError) as exc:
            out[name] = {"skipped": str(exc)[:200]}
            continue
        out[name] = {"samples_per_s": result.metrics["train_samples_per_second"], "train_loss": result.metrics["train_loss"]}
    base = out["hf_trainer_default"]["samples_per_s"]
    for row in out.values():
        if "samples_per_s" in row:
            row["ratio_to_trainer_default"] = row["samples_per_s"] / base
    return out


_HWM = """
def hwm_kb():
    # VmHWM is this process's own peak RSS; ru_maxrss would carry the parent's peak across fork+exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""


def bench_memory(model_dir: Path, n: int, sentences: list[str]) -> dict:
    """Peak RSS of fresh processes streaming n pairs: Predictor.iter_predict, and the CLI on an n-line file.

    The texts are the test split's sentences (real lengths, up to the 128-token cut), each made
    unique by a number so that nothing is encoded once for several lines.
    """
    import tempfile

    texts = [f"{sentences[i % len(sentences)]} ({i})" for i in range(n)]
    targets = list(TARGETS)
    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "input.jsonl"
        lines.write_text("".join(json.dumps({"text": t, "target": targets[i % len(targets)]}) + "\n"
                                 for i, t in enumerate(texts)), encoding="utf-8")
        predictor = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT / 'src')!r})
from peacestance.predict import Predictor
{_HWM}
p = Predictor({str(model_dir)!r}, batch_size=64, device="cpu")
base = hwm_kb()  # the high-water mark of loading (the weights are converted after they are read)
targets = [json.loads(line)["target"] for line in open({str(lines)!r}, encoding="utf-8")]
texts = (json.loads(line)["text"] for line in open({str(lines)!r}, encoding="utf-8"))
start = time.perf_counter(); count = 0
for pred in p.iter_predict(texts, targets):
    count += 1
print(count, base, hwm_kb(), time.perf_counter() - start)
"""
        cli = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT / 'src')!r})
{_HWM}
from peacestance.predict import cli
start = time.perf_counter()
with open(os.devnull, "w") as sink:
    sys.stdout = sink
    rc = cli(["--model", {str(model_dir)!r}, "--input", {str(lines)!r}])
    sys.stdout = sys.__stdout__
print(rc, 0, hwm_kb(), time.perf_counter() - start)
sys.exit(rc)
"""
        out = {}
        for name, code in (("predictor", predictor), ("cli", cli)):
            words = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            out[name] = {"peak_rss_mb": int(words[2]) / 1024, "seconds": float(words[3])}
            if name == "predictor":
                out[name].update(pairs=int(words[0]), peak_rss_at_load_mb=int(words[1]) / 1024)
    return {"pairs": n, "peak_rss_mb": out["predictor"]["peak_rss_mb"], "peak_rss_at_load_mb": out["predictor"]["peak_rss_at_load_mb"],
            "seconds": out["predictor"]["seconds"], "cli": out["cli"]}


def carry_over(results: dict, skipped: list[str], previous: Path) -> None:
    """Keep the sections a run skipped from the last full results, marked with the run they came from.

    The memory section alone takes half an hour on 2 cores; a run that re-times predict and
    ``analyze()`` should not erase it from the README, nor pass it off as new.
    """
    if not skipped or not previous.is_file():
        return
    old = json.loads(previous.read_text(encoding="utf-8"))
    for section in skipped:
        if section in old and section not in results:
            results[section] = {**old[section], "carried_from": old[section].get("carried_from") or old.get("date", "an earlier date")}


def earlier(section: dict) -> str:
    return f"from the run of {section['carried_from']}, not re-run" if section.get("carried_from") else ""


def _with_note(row: str, note: str) -> str:
    """The table row with ``note`` added to its last cell."""
    body, last = row.rstrip().removesuffix("|").rsplit("|", 1)
    last = last.strip()
    return f"{body}| {last + '; ' if last else ''}{note} |"


def write_readme_table(results: dict) -> None:
    p, t, m, a = results["predict"], results.get("training", {}), results.get("memory", {}), results.get("analyze", {})
    pipe = p["hf_pipeline"]
    rows = [f"| predict, HF pipeline {r.get('dtype', 'fp32')} batch_size={r['batch_size']} | {r['pairs_per_s']:.0f} pairs/s | "
            f"{r['pairs_per_s'] / pipe['best']['pairs_per_s']:.2f}x | {'the baseline (fastest)' if r == pipe['best'] else ''} |"
            for key, r in pipe.items() if "batch_size_" in key]
    for name in VARIANTS:
        if "pairs_per_s" in p.get(name, {}):
            rows.append(f"| predict, MiniLM {name} | {p[name]['pairs_per_s']:.0f} pairs/s | {p[name]['ratio_to_best_pipeline']:.2f}x | "
                        f"agreement with fp32 {100 * p[name]['agreement_with_fp32']:.2f}% |")
    for key in ("default_model_fp32", "default_model_bf16", "default_model"):
        if "pairs_per_s" in p.get(key, {}):
            d = p[key]
            what = f"precision={d['precision']}" if key != "default_model" else f"default path: precision=auto -> {d['precision']}"
            against_fp32 = (f"; {d['pairs_per_s'] / pipe['best_fp32']['pairs_per_s']:.2f}x the fastest fp32 pipeline"
                            if "best_fp32" in pipe and pipe["best_fp32"] != pipe["best"] else "")
            rows.append(f"| predict, default model ({d['model']}, {what}) | {d['pairs_per_s']:.0f} pairs/s | "
                        f"{d['ratio_to_best_pipeline']:.2f}x | agreement with fp32 {100 * d['agreement_with_fp32']:.2f}%{against_fp32} |")
    for key, d in p.items():
        if key.startswith("extra:"):
            rows.append(f"| predict, {key.removeprefix('extra:')} (precision=auto -> {d['precision']}) | {d['pairs_per_s']:.0f} pairs/s | "
                        f"{d['ratio_to_best_pipeline']:.2f}x | another recipe, not the default |")
    cb = p["compute_bound"]
    rows.append(f"| MiniLM fp32 compute bound | {cb['fp32_bound_pairs_per_s']:.0f} pairs/s | | fp32 reaches {100 * cb['fp32_share_of_bound']:.0f}% |")
    rows.append(f"| single-pair latency (MiniLM) | p50 {p['latency_ms']['p50']:.1f} ms, p95 {p['latency_ms']['p95']:.1f} ms | | |")
    if p.get("carried_from"):
        rows = [_with_note(row, earlier(p)) for row in rows]
    if a:
        rows.append(f"| analyze() page, HF pipeline {a['hf_pipeline'].get('dtype', 'fp32')} over its pairs | "
                    f"{a['hf_pipeline']['sentences_per_s']:.1f} sentences/s | 1.00x | "
                    f"{a['page_sentences']} sentences x {a['targets']} targets |")
        for name in ("minilm_fp32", "default_model", *(k for k in a if k.startswith("extra:"))):
            if name in a:
                label = name.removeprefix("extra:")
                rows.append(f"| analyze() page, {label} ({a[name].get('precision', 'fp32')}) | {a[name]['sentences_per_s']:.1f} sentences/s | "
                            f"{a[name]['ratio_to_pipeline']:.2f}x | {'another recipe, not the default' if name.startswith('extra:') else ''} |")
    for name, row in t.items():
        if isinstance(row, dict) and "samples_per_s" in row:
            rows.append(f"| train, {name} | {row['samples_per_s']:.1f} samples/s | {row['ratio_to_trainer_default']:.2f}x | {earlier(t)} |")
    if m:
        note = "; ".join(x for x in (f"{m['seconds']:.0f} s", earlier(m)) if x)
        rows.append(f"| predict {m['pairs']:,} pairs, streamed (Predictor.iter_predict) | peak RSS {m['peak_rss_mb']:.0f} MB | | {note} |")
        if "cli" in m:
            note = "; ".join(x for x in (f"{m['cli']['seconds']:.0f} s", earlier(m)) if x)
            rows.append(f"| peacestance-predict on a {m['pairs']:,}-line file | peak RSS {m['cli']['peak_rss_mb']:.0f} MB | | {note} |")
    table = "\n".join(["| what | speed | ratio | note |", "|---|---|---|---|", *rows])
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        README.write_text(f"{before}{start}\n{table}\n{end}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, few pairs: checks the harness, not the speed")
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--memory-pairs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", type=Path, default=None, help="a trained MiniLM cross-encoder folder (default: untrained)")
    parser.add_argument("--default-model", type=Path, default=ROOT / "models" / "peacestance",
                        help="the model `make train` gives, timed beside the cross-encoder")
    parser.add_argument("--extra-model", action="append", default=[], metavar="NAME=FOLDER",
                        help="another trained model folder to time on its default path (repeatable)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("predict", "analyze", "training", "memory"),
                        help="sections not to run; each keeps its figures from --out's last run, marked with that run's date")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n = args.pairs or (48 if args.smoke else 1000)
    repeats = args.repeats or (1 if args.smoke else 3)
    memory_pairs = args.memory_pairs or (500 if args.smoke else 100_000)
    if "predict" in args.skip and (args.smoke or not args.out.is_file()
                                   or "predict" not in json.loads(args.out.read_text(encoding="utf-8"))):
        parser.error(f"--skip predict keeps the predict figures of {args.out}, and it has none")

    model_dir = ensure_model(args.smoke, None if args.smoke else args.model)
    default_dir = model_dir if args.smoke else (args.default_model if (args.default_model / "peacestance.json").is_file() else None)
    extra = {}
    for item in args.extra_model:
        name, sep, folder = item.partition("=")
        if not sep or not (Path(folder) / "peacestance.json").is_file():
            parser.error(f"--extra-model {item!r}: expected NAME=FOLDER with a trained model folder")
        extra[name] = Path(folder)
    sentences, phrases = bench_inputs(n, ROOT / "data" / "processed")
    results = {"date": time.strftime("%Y-%m-%d"),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
               "smoke": args.smoke, "pairs": n, "model": str(model_dir), "default_model": str(default_dir)}
    if "predict" in args.skip:  # e.g. a memory-only run: the ratios stay those of the run that timed them
        carry_over(results, ["predict"], args.out)
    else:
        results["predict"] = bench_predict(model_dir, sentences, phrases, repeats, args.batch_size, default_dir, extra)
    if "analyze" not in args.skip:
        results["analyze"] = bench_analyze(model_dir, default_dir, list(dict.fromkeys(sentences)), repeats,
                                           results["predict"]["hf_pipeline"]["best"], extra)
    if "training" not in args.skip:
        results["training"] = bench_training(sentences, phrases, args.smoke)
    if "memory" not in args.skip:
        results["memory"] = bench_memory(default_dir or model_dir, memory_pairs, list(dict.fromkeys(sentences)))
    if not args.smoke:
        carry_over(results, [s for s in args.skip if s != "predict"], args.out)
    results["peak_rss_mb_bench_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    p = results["predict"]
    best = p["hf_pipeline"]["best"]
    print("pipeline pairs/s: " + ", ".join(f"{r.get('dtype', 'fp32')} bs={r['batch_size']} {r['pairs_per_s']:.1f}"
                                           for k, r in p["hf_pipeline"].items() if "batch_size_" in k)
          + f" (best {best.get('dtype', 'fp32')} bs={best['batch_size']})")
    for name in (*VARIANTS, "default_model_fp32", "default_model_bf16", "default_model", *(k for k in p if k.startswith("extra:"))):
        row = p.get(name, {})
        if "pairs_per_s" in row:
            print(f"predict {name}: {row['pairs_per_s']:.1f} pairs/s ({row['ratio_to_best_pipeline']:.2f}x the best pipeline)")
    print(f"fp32 bound {p['compute_bound']['fp32_bound_pairs_per_s']:.1f} pairs/s; fp32 at {p['compute_bound']['fp32_share_of_bound']:.2f} of it"
          f"; latency p50 {p['latency_ms']['p50']:.1f} ms p95 {p['latency_ms']['p95']:.1f} ms")
    for name, row in results.get("analyze", {}).items():
        if isinstance(row, dict) and "sentences_per_s" in row:
            print(f"analyze {name}: {row['sentences_per_s']:.1f} sentences/s")
    for name, row in results.get("training", {}).items():
        if isinstance(row, dict):
            print(f"train {name}: " + (f"{row['samples_per_s']:.1f} samples/s ({row['ratio_to_trainer_default']:.2f}x)"
                                       if "samples_per_s" in row else row["skipped"]))
    if "memory" in results:
        m = results["memory"]
        print(f"memory: {m['pairs']} pairs streamed, peak RSS {m['peak_rss_mb']:.0f} MB in {m['seconds']:.0f} s; "
              f"the CLI on as many lines {m['cli']['peak_rss_mb']:.0f} MB in {m['cli']['seconds']:.0f} s")
    if not args.smoke:
        write_readme_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
