"""Where the encoder's MLM train step spends its time: matrix products, random bits, exp/erf,
reductions, gathers and the rest, split into forward, backward and the optimizer update, from a
`jax.profiler` trace of the step `encoder_throughput.py` times against PyTorch.

    python benchmarks/encoder_profile.py                        # mini, BERT layout, batch 32 x 128
    python benchmarks/encoder_profile.py --size tiny --steps 3 --out /tmp/p.md

The model, batches and optimizer are `encoder_throughput.py`'s (`run_config`, `token_batches`),
so the two read together: that table says how fast, this one where the time goes. After
`--warmup` untraced steps (compilation), `--steps` steps are traced; XLA's optimised HLO of the
step is dumped (`--xla_dump_to`) and every traced XLA operation mapped to its HLO instruction
(`word2vec_profile.parse_hlo`) and classified twice:

- phase, from the operation's JAX name stack: `backward` (under `transpose(jvp(...))`),
  `forward` (under `jvp(...)` only), `update` (neither: the optimizer, clipping, metrics);
- kind, from the opcodes it holds: `matmul` (a dot, or a fusion holding one), `rng` (threefry
  bits: the dropout masks and MLM masking), `gather/scatter` (embedding rows, masked positions),
  `exp/erf` (softmax, gelu, the loss), `reduce` (layer norms, softmax sums, gradient sums),
  `other` (the remaining element-wise fusions, copies, transposes, control flow).

Times are exclusive op times: each XLA operation's span on the thread that ran it, summed over
operations (two operations running side by side both count). A product split over several
threads inside one operation shows as that one span, so "ops in flight" (op time / wall time)
measures how much the operations overlap, not how busy the cores are. `matmul GFLOP/s` divides
XLA's count of the step's floating-point operations, nearly all in its dots, by the matmul op
time: compare it with one product's rate alone in `matmul_gflops.py`. A third table lists the
costliest operations that are not products by phase, kind and the JAX operation XLA names them
after (`source`; a fusion by its root).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gzip
import json
import math
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import invocation, machine, write_section  # noqa: E402

PHASES = ("forward", "backward", "update")
OTHERS_SHOWN = 15
KINDS = ("matmul", "rng", "gather/scatter", "exp/erf", "reduce", "other")


def phase(op_name: str) -> str:
    if "transpose(jvp(" in op_name:
        return "backward"
    if "jvp(" in op_name:
        return "forward"
    return "update"


def kind(name: str, instructions: dict, opcodes: dict) -> str:
    opcode, calls, op_name = instructions[name]
    inside = {opcode}
    for called in calls:
        inside.update(opcodes.get(called, []))
    # By content, not by name: XLA's YNNPACK fusions (`ynn_fusion.N`) hold reductions too.
    if {"dot", "convolution"} & inside:
        return "matmul"
    if "threefry" in op_name or "random_bits" in op_name or {"xor", "shift-right-logical"} & inside:
        return "rng"
    if {"gather", "scatter"} & inside:
        return "gather/scatter"
    if {"exponential", "log", "erf", "tanh", "logistic", "log-plus-one"} & inside:
        return "exp/erf"
    if "reduce" in inside or "reduce-window" in inside:
        return "reduce"
    return "other"


SHAPE = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*\w+\[([\d,]*)\]")
DOT = re.compile(r"\sdot\(%([\w.\-]+),\s*%([\w.\-]+)\).*?lhs_contracting_dims=\{([\d,]*)\}")
ENTRY_DOT = "dot instruction "
EINSUM = re.compile(r"\(([a-z.]+,[a-z.]+->[a-z.]+)\)")


def dot_products(hlo_text: str) -> dict[str, tuple[float, str]]:
    """{computation: (floating-point operations of its dots, a label)}: 2 x the result's
    elements x the contracted size, from the shapes in the optimised HLO; the label is the
    dot's JAX einsum, or its result shape and contracted size for a plain product."""
    shapes: dict[str, list[int]] = {}
    found: dict[str, tuple[float, str]] = {}
    computation = ""
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            computation = line.split()[1 if line.startswith("ENTRY") else 0].lstrip("%")
            continue
        shape = SHAPE.match(line)
        if not shape:
            continue
        shapes[shape.group(1)] = [int(d) for d in shape.group(2).split(",") if d]
        dot = DOT.search(line)
        if dot:
            lhs = shapes.get(dot.group(1), [])
            contracted = math.prod(lhs[int(i)] for i in dot.group(3).split(",") if i)
            einsum = EINSUM.search(line)
            flops = 2.0 * math.prod(shapes[shape.group(1)]) * contracted
            before = found.get(computation, (0.0, ""))
            result = "x".join(map(str, shapes[shape.group(1)]))
            label = einsum.group(1) if einsum else f"matmul to {result}, contracting {contracted}"
            found[computation] = (before[0] + flops, label)
            found[f"{ENTRY_DOT}{shape.group(1)}"] = (flops, label)  # a dot XLA did not fuse
    return found


def breakdown(events: list[dict], hlo_text: str) -> dict:
    """{(phase, kind): exclusive ms} of the traced XLA operations of the train step, the
    traced steps' wall ms, and each product's (phase, einsum) ms and floating-point operations."""
    from benchmarks.word2vec_profile import exclusive_times, parse_hlo

    instructions, opcodes = parse_hlo(hlo_text)
    products = dot_products(hlo_text)
    ops = [e for e in events if e["name"] in instructions]
    totals: collections.Counter = collections.Counter()
    by_product: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    by_source: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    executions = collections.Counter(e["name"] for e in ops)
    per_name: collections.Counter = collections.Counter()
    for (_, name), micros in exclusive_times(ops).items():
        per_name[name] += micros
    for name, micros in per_name.items():
        op_phase = phase(instructions[name][2])
        op_kind = kind(name, instructions, opcodes)
        totals[(op_phase, op_kind)] += micros
        if op_kind != "matmul":
            row = by_source[f"{op_phase} {op_kind}: {source(instructions[name][2])}"]
            row[0] += micros / 1e3
            row[1] += executions[name]
        if op_kind == "matmul":
            called = [products[c] for c in instructions[name][1] if c in products]
            if f"{ENTRY_DOT}{name}" in products and instructions[name][0] == "dot":
                called.append(products[f"{ENTRY_DOT}{name}"])
            row = by_product[f"{op_phase} {called[0][1] if called else '?'}"]
            row[0] += micros / 1e3
            row[1] += sum(f for f, _ in called) * executions[name]
            row[2] += executions[name]
    wall_us = max(e["ts"] + e["dur"] for e in ops) - min(e["ts"] for e in ops)
    return {
        "wall_ms": wall_us / 1e3,
        "ms": {f"{p}/{k}": totals[(p, k)] / 1e3 for p in PHASES for k in KINDS},
        "products": {
            k: dict(zip(("ms", "flops", "calls"), v, strict=True)) for k, v in by_product.items()
        },
        "others": {k: dict(zip(("ms", "calls"), v, strict=True)) for k, v in by_source.items()},
    }


def source(op_name: str) -> str:
    """The JAX operation an XLA operation came from, without the step's jit and the autodiff
    wrappers around the name that follows it (inner jit names stay):
    `jit(train_step)/transpose(jvp(bld,dhk->blhk))/add_any` -> `bld,dhk->blhk/add_any`."""
    name, wrappers = op_name.removeprefix("jit(train_step)/"), 0
    while name.startswith(("transpose(", "jvp(")):
        name, wrappers = name.split("(", 1)[1], wrappers + 1
    if wrappers:  # the wrapped name closes with as many parentheses before its next "/"
        close = name.find(")" * wrappers + "/")
        name = name[:close] + name[close + wrappers :] if close >= 0 else name[:-wrappers]
    return name.lstrip("/") or "?"


def profile(args, scratch: Path) -> dict:
    """Train the warm-up steps, trace the next ones, and break the trace down."""
    import jax

    from benchmarks.encoder_throughput import make_spec, run_config, token_batches
    from research.train.encoder_step import init_state, make_optimizer, make_train_step

    spec = make_spec(args)
    config = run_config(args)
    config.train.cpu_scheduler = args.cpu_scheduler
    tx, schedule = make_optimizer(config)
    graphdef, state = init_state(config, spec["vocab_size"], tx)
    step = make_train_step(config, graphdef, tx, schedule)
    batches = [jax.device_put(b) for b in token_batches(spec)]
    for i in range(spec["warmup"]):
        state, _ = step(state, {"tokens": batches[i]})
    jax.block_until_ready(state)
    flops = step.lower(state, {"tokens": batches[0]}).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops).get("flops", float("nan"))
    trace_dir = scratch / "trace"
    started = time.perf_counter()
    jax.profiler.start_trace(str(trace_dir), create_perfetto_trace=True)
    for i in range(spec["warmup"], spec["warmup"] + spec["steps"]):
        state, _ = step(state, {"tokens": batches[i]})
    jax.block_until_ready(state)
    jax.profiler.stop_trace()
    traced_seconds = time.perf_counter() - started
    trace_file = next(trace_dir.rglob("perfetto_trace.json.gz"))
    events = [e for e in json.load(gzip.open(trace_file))["traceEvents"] if e.get("ph") == "X"]
    hlo_file = next((scratch / "hlo").glob("*jit_train_step.cpu_after_optimizations.txt"))
    return {
        "spec": spec,
        "cpu_scheduler": config.train.cpu_scheduler,
        "flops_per_step": float(flops),
        "traced_seconds": traced_seconds,
        **breakdown(events, hlo_file.read_text()),
    }


def table(result: dict, command: str) -> str:
    spec, steps = result["spec"], result["spec"]["steps"]
    ms = {key: value / steps for key, value in result["ms"].items()}
    device = sum(ms.values())
    matmul_ms = sum(ms[f"{p}/matmul"] for p in PHASES)
    gflops = result["flops_per_step"] / 1e6 / max(matmul_ms, 1e-9)
    lines = [
        f"### where the encoder's train step spends its time ({spec['size']}, encoder_profile)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- date: {datetime.date.today().isoformat()}; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        f"- model: {spec['size']} = dim {spec['dim']}, {spec['layers']} layers, "
        f"{spec['heads']} heads, mlp {spec['mlp_dim']}, vocabulary {spec['vocab_size']}, "
        f"{spec['arch']} layout, dropout {spec['dropout']}, attention dropout "
        f"{spec['attention_dropout']}; batch {spec['batch']} x {spec['seq_len']}, "
        f"{spec['dtype']}; MLM as encoder_throughput.py; {spec['warmup']} untraced steps, "
        f"then {steps} traced; XLA:CPU op schedule `{result['cpu_scheduler']}`",
        "- ms per step, exclusive op time (see the script's docstring); share = of all op time",
        "",
        f"Wall time per traced step {result['wall_ms'] / steps:.1f} ms "
        f"({result['traced_seconds'] / steps * 1e3:.1f} ms with the tracer's start and stop); "
        f"op time {device:.1f} ms ({device / (result['wall_ms'] / steps):.2f} operations in "
        f"flight on average); XLA's count {result['flops_per_step'] / 1e9:.2f} GFLOP a step, "
        f"**{gflops:.1f} GFLOP/s over the matmul op time**.",
        "",
        "| phase | " + " | ".join(KINDS) + " | all |",
        "|---|" + "---|" * (len(KINDS) + 1),
    ]
    for p in (*PHASES, "all"):
        row = [ms[f"{p}/{k}"] if p != "all" else sum(ms[f"{q}/{k}"] for q in PHASES) for k in KINDS]
        cells = [f"{v:.1f} ({v / device:.0%})" for v in row]
        lines.append(
            f"| {p} | " + " | ".join(cells) + f" | {sum(row):.1f} ({sum(row) / device:.0%}) |"
        )
    lines += [
        "",
        "Each product by its JAX einsum (a dot XLA fused with element-wise work counts with it), "
        "by op time. A rate above what the machine can reach (one product alone: "
        "`matmul_gflops.py`) means part of that product ran outside its operation's traced span "
        "(XLA:CPU runs some operations asynchronously): read such a row as not timed.",
        "",
        "| phase and einsum | calls a step | ms a step | GFLOP a step | GFLOP/s of op time |",
        "|---|---|---|---|---|",
    ]
    for key, row in sorted(result["products"].items(), key=lambda item: -item[1]["ms"]):
        rate = row["flops"] / 1e6 / row["ms"] if row["ms"] else float("nan")
        lines.append(
            f"| {key} | {row['calls'] / steps:g} | {row['ms'] / steps:.1f} | "
            f"{row['flops'] / steps / 1e9:.2f} | {rate:.0f} |"
        )
    others = sorted(result.get("others", {}).items(), key=lambda item: -item[1]["ms"])
    lines += [
        "",
        f"The {OTHERS_SHOWN} costliest operations that are not products, by phase, kind and the "
        "JAX operation XLA names them after (a fusion by its root):",
        "",
        "| phase kind: JAX operation | executions a step | ms a step | share of op time |",
        "|---|---|---|---|",
    ]
    for key, row in others[:OTHERS_SHOWN]:
        lines.append(
            f"| {key} | {row['calls'] / steps:g} | {row['ms'] / steps:.1f} | "
            f"{row['ms'] / steps / device:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "mini", "small", "base"], default="mini")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="traced steps")
    parser.add_argument("--warmup", type=int, default=3, help="untraced steps (incl. compile)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--arch", choices=["bert", "ours"], default="bert")
    parser.add_argument("--attention-dropout", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.1, help="as encoder_throughput.py's")
    parser.add_argument("--vocab-size", type=int, default=0, help="0: the encoder default")
    parser.add_argument(
        "--cpu-scheduler",
        choices=["memory", "concurrency"],
        default="memory",
        help="train.cpu_scheduler, XLA:CPU's op schedule (memory: the encoder default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    args = parser.parse_args()
    # encoder_throughput's spec has them; PyTorch is not run here
    args.torch_bf16, args.torch_attention = False, "sdpa"
    if args.steps < 1 or args.warmup < 1:
        raise SystemExit("error: --steps and --warmup must be at least 1")
    with tempfile.TemporaryDirectory() as scratch:
        # The dump must be asked for before jax starts its backend (this process imports jax
        # only inside `profile`).
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_dump_to={Path(scratch) / 'hlo'}".strip()
        if not args.vocab_size:
            from research.config import EncoderRunConfig

            args.vocab_size = EncoderRunConfig().data.vocab_size
        result = profile(args, Path(scratch))
    command = invocation(__file__)
    body = table(result, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    name = f"encoder_profile {args.size} seq{args.seq_len} {args.cpu_scheduler}"
    if (args.dropout, args.attention_dropout) != (0.1, 0.1):
        name += f" dropout-{args.dropout:g}-{args.attention_dropout:g}"
    write_section(Path(args.out), name, body)


if __name__ == "__main__":
    main()
