"""Where a word2vec training step spends its time: gather, scatter, matmul, random numbers, the
rest of the device work, and the host pipeline, from a `jax.profiler` trace of the real step.

    python benchmarks/word2vec_profile.py --corpus ~/.cache/strata-bench-corpus/corpus.txt
    python benchmarks/word2vec_profile.py --corpus /tmp/small.txt --dispatches 5 --out /tmp/p.md

Each kind trains one epoch (the word2vec_vs_gensim settings: dim 100, window 5, negative 5,
sample 1e-3, min_count 5) in its own process with `log.profile_dispatches` set, so the run's own
trainer writes the trace (WORKDIR/profile) of that many step calls after the first log interval;
XLA's optimised HLO of the step is dumped beside it (`--xla_dump_to`). Every traced XLA operation
is mapped to its HLO instruction and classified:

- scatter: a scatter (the row updates written back into the tables), a fusion holding one, or
  the loop XLA may expand one into (named by the scatter's op_name);
- gather: a gather (table rows read) or a fusion holding one;
- matmul: a dot, or a fusion holding one (YNNPACK's fusions by what they hold: some are reductions);
- rng: the threefry loop and its bit operations (dynamic windows, negatives);
- sigmoid/loss: fusions with exp/log (the losses and their gradients);
- other: the remaining element-wise fusions, copies, slices, reductions, control flow.

A second table per kind lists the largest JAX operations: XLA's operations grouped by the JAX
operation their HLO metadata names (the op_name's last two parts), which says what a class's
time is made of.

Times are exclusive (a while loop's own time excludes the operations inside it) and summed over
XLA's worker threads, so on a 2-core CPU their sum can reach twice the wall time. "Host" is the
time the data pipeline's producer thread spent making the traced dispatches' batches (the Python
tracer's events of the batch generator), which overlaps the device work. The trace's Python
tracer slows the host while it runs, so steady words/s are read from the untraced log intervals.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gzip
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import invocation, machine, run_json_worker, write_section  # noqa: E402

CATEGORIES = ("gather", "scatter", "matmul", "rng", "sigmoid/loss", "other")
TOP_OPS = 12
INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*.*?\s([a-z][\w\-]*)\(")
CALLS = re.compile(r"calls=%([\w.\-]+)")
COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%([\w.\-]+)\s.*\{\s*$")


def parse_hlo(text: str) -> tuple[dict[str, tuple[str, list[str], str]], dict[str, list[str]]]:
    """{instruction: (opcode, called computations, metadata op_name)}, {computation: opcodes}."""
    instructions: dict[str, tuple[str, list[str], str]] = {}
    opcodes: dict[str, list[str]] = collections.defaultdict(list)
    computation = ""
    for line in text.splitlines():
        head = COMPUTATION.match(line)
        if head and "=" not in line.split("{")[0]:
            computation = head.group(1)
            continue
        match = INSTRUCTION.match(line)
        if not match:
            continue
        name, opcode = match.groups()
        op_name = re.search(r'op_name="([^"]*)"', line)
        instructions[name] = (opcode, CALLS.findall(line), op_name.group(1) if op_name else "")
        opcodes[computation].append(opcode)
    return instructions, opcodes


def category(name: str, instructions: dict, opcodes: dict) -> str:
    opcode, calls, op_name = instructions[name]
    inside = {opcode}
    for called in calls:
        inside.update(opcodes.get(called, []))
    # XLA may also expand a scatter into a loop of dynamic-update-slices (its legacy CPU
    # emitters do); the loop and its body keep the scatter's op_name.
    if "scatter" in inside or op_name.rsplit("/", 1)[-1].startswith("scatter"):
        return "scatter"
    if "gather" in inside:
        return "gather"
    # By content, not by name: XLA's YNNPACK fusions (`ynn_fusion.N`) hold reductions too.
    if {"dot", "convolution"} & inside:
        return "matmul"
    if "threefry" in op_name or "random_bits" in op_name or {"xor", "shift-right-logical"} & inside:
        return "rng"
    if {"exponential", "log", "log-plus-one", "logistic"} & inside:
        return "sigmoid/loss"
    return "other"


def exclusive_times(events: list[dict]) -> dict[tuple[int, str], float]:
    """{(thread, name): exclusive µs} of complete events, children subtracted per thread."""
    by_thread: dict[int, list[dict]] = collections.defaultdict(list)
    for event in events:
        by_thread[event["tid"]].append(event)
    out: dict[tuple[int, str], float] = collections.Counter()
    for tid, thread in by_thread.items():
        thread.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack: list[list] = []  # [end, name, child time]
        for event in thread:
            while stack and event["ts"] >= stack[-1][0]:
                end, name, children = stack.pop()
                out[(tid, name)] -= children
            if stack:
                stack[-1][2] += event["dur"]
            out[(tid, event["name"])] += event["dur"]
            stack.append([event["ts"] + event["dur"], event["name"], 0.0])
        while stack:
            end, name, children = stack.pop()
            out[(tid, name)] -= children
    return out


def breakdown(events: list[dict], hlo_text: str, step_name: str = "train_step") -> dict:
    """Dispatches of `step_name`, wall and per-category exclusive ms of a trace's complete
    events, whose XLA operations are named in `hlo_text` (the step's optimised HLO)."""
    instructions, opcodes = parse_hlo(hlo_text)
    calls = sorted(
        (e for e in events if e["name"].startswith(f"PjitFunction({step_name}")),
        key=lambda e: e["ts"],
    )
    dispatches, end = [], -1.0  # a call shows as two nested events: count the outer ones
    for call in calls:
        if call["ts"] >= end:
            dispatches.append(call)
            end = call["ts"] + call["dur"]
    producer = re.compile(r"^\$word2vec\.py:\d+ batches$")
    host_us = sum(e["dur"] for e in events if producer.match(e["name"]))
    ops = [e for e in events if e["name"] in instructions]
    totals, per_op = collections.Counter(), collections.Counter()
    for (_, name), micros in exclusive_times(ops).items():
        totals[category(name, instructions, opcodes)] += micros
        per_op[name] += micros
    start = min(e["ts"] for e in dispatches)
    wall_us = max(e["ts"] + e["dur"] for e in ops) - start
    return {
        "dispatches": len(dispatches),
        "wall_ms": wall_us / 1e3,
        "host_ms": host_us / 1e3,
        "ms": {c: totals[c] / 1e3 for c in CATEGORIES},
        "top": largest_sources(per_op, instructions, opcodes),
    }


def largest_sources(per_op: dict, instructions: dict, opcodes: dict) -> list[dict]:
    """The TOP_OPS largest JAX operations by exclusive µs: XLA's operations grouped by the JAX
    operation their op_name ends in (its last two parts) and class, so that the ten slices of
    one neighbour loop show as one line with their count."""
    groups: dict[tuple[str, str], list] = {}
    for name, micros in per_op.items():
        source = "/".join(instructions[name][2].split("/")[-2:])
        group = groups.setdefault((source, category(name, instructions, opcodes)), [0.0, []])
        group[0] += micros
        group[1].append(name)
    ranked = sorted(groups.items(), key=lambda item: -item[1][0])[:TOP_OPS]
    return [
        {"source": source, "category": kind, "ops": sorted(names), "ms": micros / 1e3}
        for (source, kind), (micros, names) in ranked
    ]


def analyse(workdir: Path, dump: Path) -> dict:
    trace_file = next((workdir / "profile").rglob("perfetto_trace.json.gz"))
    events = [e for e in json.load(gzip.open(trace_file))["traceEvents"] if e.get("ph") == "X"]
    hlo_file = next(dump.glob("*jit_train_step.cpu_after_optimizations.txt"))
    return breakdown(events, hlo_file.read_text())


def worker(args) -> dict:
    from research.config import Config, apply_override
    from research.train.word2vec import fit

    config = Config(name=f"profile_{args.kind}")
    config.data.source = args.corpus
    config.data.min_count, config.data.window = args.min_count, args.window
    config.data.negatives, config.data.sample = args.negative, args.sample
    config.model.kind, config.model.dim = args.kind, args.dim
    config.train.epochs = 1
    config.eval.default_suite = False
    config.log.progress = False
    config.log.profile_dispatches = args.dispatches
    for assignment in args.set or []:
        apply_override(config, assignment)
    workdir = Path(args.workdir)
    run = fit(config, workdir)
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    blocks_per_dispatch = config.train.steps_per_dispatch * config.train.parallel_blocks
    # Leave out the first interval (compilation), the ones the trace slowed, and the last one
    # (partial, with the final checkpoint).
    traced = -(-args.dispatches * blocks_per_dispatch // config.train.log_every)
    steady = [r["steps_per_sec"] for r in rows[2 + traced : -1] if "steps_per_sec" in r]
    words_per_block = int(run.corpus.meta["raw_tokens"]) / run.steps  # raw words, as elsewhere
    return {
        "kind": args.kind,
        "train_seconds": run.train_seconds,
        "steady_words_per_sec": words_per_block * sum(steady) / len(steady)
        if steady
        else float("nan"),
        "words_per_block": words_per_block,
        "blocks_per_dispatch": blocks_per_dispatch,
        # XLA:CPU's op schedule the step was compiled with (train.cpu_scheduler, as resolved)
        "cpu_scheduler": json.loads((workdir / "run.json").read_text()).get("cpu_scheduler"),
        "settings": {k: v for k, v in vars(config.train).items()},
        **analyse(workdir, Path(args.dump)),
    }


def table(results: list[dict], command: str, corpus: str) -> str:
    lines = [
        "### where a word2vec step spends its time (word2vec_profile)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- date: {datetime.date.today().isoformat()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        f"- corpus: {corpus}; one epoch, dim 100, window 5, negative 5, sample 1e-3, "
        "min_count 5; the trace covers the dispatches counted below, after the first log "
        "interval",
        "- ms per dispatch, exclusive, summed over XLA's threads; share = of all device time; "
        "steady words/s: raw corpus words, untraced log intervals",
        "",
        "| kind | op schedule | dispatches traced | blocks/dispatch | steady words/s | wall "
        "ms/dispatch | device ms/dispatch | "
        + " | ".join(CATEGORIES)
        + " | host (producer) ms/dispatch |",
        "|---|---|---|---|---|---|---|" + "---|" * len(CATEGORIES) + "---|",
    ]
    for r in results:
        n = max(r["dispatches"], 1)
        device = sum(r["ms"].values())
        cells = [f"{r['ms'][c] / n:.2f} ({r['ms'][c] / device:.0%})" for c in CATEGORIES]
        lines.append(
            f"| {r['kind']} | {r.get('cpu_scheduler') or 'n/a'} | {r['dispatches']} | "
            f"{r['blocks_per_dispatch']} | "
            f"{r['steady_words_per_sec']:,.0f} | {r['wall_ms'] / n:.2f} | {device / n:.2f} | "
            + " | ".join(cells)
            + f" | {r['host_ms'] / n:.2f} |"
        )
    for r in results:
        n, device = max(r["dispatches"], 1), sum(r["ms"].values())
        lines += [
            "",
            f"{r['kind']}: the {len(r.get('top', []))} largest JAX operations (XLA's operations "
            "grouped by the op_name they end in; ms per dispatch, exclusive, share of device time)",
            "",
            "| source (op_name) | class | XLA operations | ms/dispatch | share |",
            "|---|---|---|---|---|",
        ]
        for t in r.get("top", []):
            ops = t["ops"][0] if len(t["ops"]) == 1 else f"{len(t['ops'])}, e.g. {t['ops'][0]}"
            lines.append(
                f"| `{t['source'] or '(none)'}` | {t['category']} | {ops} | {t['ms'] / n:.2f} | "
                f"{t['ms'] / device:.1%} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="~/.cache/strata-bench-corpus/corpus.txt")
    parser.add_argument("--kinds", default="skipgram,cbow")
    parser.add_argument("--dispatches", type=int, default=20)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--set", action="append", help="extra config override")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.corpus = os.path.expanduser(args.corpus)
    if not os.path.isfile(args.corpus):
        raise SystemExit(f"error: no corpus at {args.corpus}; pass --corpus PATH")
    if args.worker:
        print(json.dumps(worker(args)))
        return
    results = []
    for kind in args.kinds.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            dump = Path(scratch) / "hlo"
            env = {
                **os.environ,
                "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={dump}".strip(),
            }
            command = [
                sys.executable,
                __file__,
                "--worker",
                "--kind",
                kind,
                "--workdir",
                str(Path(scratch) / "run"),
                "--dump",
                str(dump),
            ]
            for flag in ("corpus", "dispatches", "dim", "window", "negative", "sample"):
                command += [f"--{flag}", str(getattr(args, flag))]
            command += ["--min-count", str(args.min_count)]
            for assignment in args.set or []:
                command += ["--set", assignment]
            results.append(run_json_worker(command, f"profile {kind}", env=env))
    invocation_line = invocation(__file__)
    body = table(results, invocation_line, args.corpus)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    write_section(Path(args.out), f"word2vec_profile {Path(args.corpus).name}", body)


if __name__ == "__main__":
    main()
