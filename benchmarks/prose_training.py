"""Every encoder objective on real prose (prose.jsonl), and the `tiny` encoder's speed there.

    python benchmarks/prose_training.py --corpus ~/.cache/strata-bench-corpus/prose.jsonl

Runs launch.py's code path (experiments/encoder_mlm.py plus --set overrides) once per objective
on the corpus, each in its own workdir under --workdir, with no evaluation (this measures
training; the real evaluation suite is configured separately): `mlm` and `contrastive`
(neighbouring-sentence positives) for --steps steps, and a --smoke-steps run each of
next_token, contrastive with dropout positives, mlm+contrastive and multi_abstraction (whose
context term needs document topics, which prose lacks: objective.context_weight=0).

Reported: the token cache's build (time, sentences, truncated sentences, sequences, from its
meta.json; the first run builds it unless it is cached) and, per run, tokens/s = the median of
the logged intervals after the first (which holds the compilation), and the final loss. The
table goes to stdout and, with --write, into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import launch  # noqa: E402
from benchmarks.bench_common import machine, peak_rss_mb, write_section  # noqa: E402
from research.io.writers import git_commit  # noqa: E402

RUNS = [  # (name, overrides, long run?)
    ("mlm", ["objective.kind=mlm"], True),
    ("contrastive (neighbour)", ["objective.kind=contrastive"], True),
    ("next_token", ["objective.kind=next_token"], False),
    ("contrastive (dropout)", ["objective.kind=contrastive", "objective.positives=dropout"], False),
    ("mlm+contrastive", ["objective.kind=mlm+contrastive"], False),
    (
        "multi_abstraction",
        ["objective.kind=multi_abstraction", "objective.context_weight=0"],
        False,
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=Path("runs/prose_training"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--smoke-steps", type=int, default=20)
    parser.add_argument("--cache-dir", default="", help="data.cache_dir (default: the usual)")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args()
    common = [
        f"data.source={args.corpus}",
        "eval.default_suite=false",
        "log.progress=false",
        "train.checkpoint_every=100000",
    ] + ([f"data.cache_dir={args.cache_dir}"] if args.cache_dir else [])
    rows, meta = [], None
    for name, overrides, long in RUNS:
        steps = args.steps if long else args.smoke_steps
        workdir = args.workdir / name.replace(" ", "_").replace("(", "").replace(")", "")
        log_every = max(steps // 10, 2)
        sets = common + overrides + [f"train.steps={steps}", f"train.log_every={log_every}"]
        started = time.time()
        argv = ["experiments/encoder_mlm.py", "--workdir", str(workdir)]
        code = launch.main(argv + [x for s in sets for x in ("--set", s)])
        if code != 0:
            raise SystemExit(f"{name} failed (exit {code})")
        seconds = time.time() - started
        logged = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
        logged = [r for r in logged if "tokens_per_sec" in r]
        speed = statistics.median(r["tokens_per_sec"] for r in logged[1:] or logged)
        meta = meta or json.loads((workdir / "run.json").read_text())["data"]
        rows.append(
            f"| {name} | {steps} | {speed:,.0f} | {logged[-1]['loss']:.3f} | {seconds:.0f} |"
        )
    body = (
        f"Corpus `{args.corpus.name}`; `tiny` encoder, default data settings (max_len "
        f"{meta['max_len']}, sentence_len {meta['sentence_len']}, vocabulary "
        f"{meta['vocab_size']}), batch 32 sequences / 64 sentence pairs, seed 0; commit "
        f"{git_commit()}; {machine()}; {datetime.date.today().isoformat()}; peak RSS of the "
        f"whole script {peak_rss_mb():,.0f} MB.\n\n"
        f"Token cache: {meta['documents']:,} documents, {meta['sentences']:,} sentences, "
        f"{meta['tokens']:,} WordPiece tokens, {meta['sequences']:,} packed sequences (fill "
        f"{meta['packed_fill']:.2f}); sentences truncated to sentence_len in the sentence table: "
        f"{meta['truncated_sentences_in_table']:,} "
        f"({100 * meta['truncated_sentences_in_table'] / meta['sentences']:.1f} %), in packing: "
        f"{meta['truncated_sentences_in_packing']:,}; built in {meta['seconds']:.0f} s.\n\n"
        "| objective | steps | tokens/s (median interval) | final loss | wall s (incl. compile) "
        "|\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n\nCommand: `python "
        f"benchmarks/prose_training.py --corpus ~/.cache/strata-bench-corpus/{args.corpus.name} "
        f"--steps {args.steps} --smoke-steps {args.smoke_steps} --write`\n"
    )
    print(body)
    if args.write:
        write_section(
            ROOT / "BENCHMARKS.md",
            "prose training",
            "### every encoder objective on prose.jsonl (tiny, CPU)\n\n" + body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
