"""MLM training throughput: this project's encoder train step against Hugging Face BERT (PyTorch).

    python benchmarks/encoder_throughput.py --size mini --seq-len 128 --batch 32

Runs (a) this project's jitted, state-donating MLM train step (research/train/encoder_step.py:
TextModel + tied MLM head, AdamW, global-norm clipping 1.0, masking inside the step), built from
an EncoderRunConfig of the chosen size, and (b) transformers' BertForMaskedLM on PyTorch (CPU)
with the same shape (hidden, layers, heads, intermediate, vocab, max positions), the same batches,
the same masking (15% of positions labelled; 80% [MASK], 10% random, 10% kept), dropout 0.1,
torch AdamW with the same learning-rate schedule, weight decay (not on biases and LayerNorm
parameters) and clipping 1.0. Each implementation runs in its own subprocess, so peak RSS is per
implementation. Batches are random tokens drawn from a Zipf distribution (so the loss can fall
below log(vocab) by learning unigram frequencies, which shows that both really train), generated
before timing and fed straight to the step: no host data pipeline is measured.

tokens/s = batch x seq_len x timed steps / wall time of the timed steps; the warm-up steps before
them include compilation (ours) and allocator warm-up (both). `--rounds N` (default 3) runs each
implementation N times in fresh processes, alternating which goes first; the headline ratio is
the median of the per-round ratios, since on a shared machine one pair of runs moved the ratio by
several per cent. The table is written into
BENCHMARKS.md between markers named after size, sequence length and dtype (replacing a previous
table of the same name), with the command, machine and date. When JAX runs on a GPU, model-FLOPs
utilisation is reported for ours (formula in the output).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402

# research.models.encoder.SIZES; not imported here so that the PyTorch worker never loads JAX.
SIZE_NAMES = ("tiny", "mini", "small", "base")

# Dense bf16 peak FLOP/s by a substring of jax's device_kind (first match wins; PCIe before SXM).
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("A100", 312e12),
)


def token_batches(spec: dict):
    """(warmup + steps, batch, seq_len) int32 word ids, Zipf-distributed; the same for both."""
    import numpy as np

    rng = np.random.default_rng(spec["seed"])
    first, vocab = spec["first_word_id"], spec["vocab_size"]
    ranks = np.arange(1, vocab - first + 1, dtype=np.float64)
    probs = 1.0 / ranks
    probs /= probs.sum()
    shape = (spec["warmup"] + spec["steps"], spec["batch"], spec["seq_len"])
    return (rng.choice(vocab - first, size=shape, p=probs) + first).astype(np.int32)


def run_config(args):
    """The EncoderRunConfig the benchmark trains (also the source of the shared settings)."""
    from research.config import EncoderRunConfig

    config = EncoderRunConfig(name=f"bench_throughput_{args.size}")
    config.model.size = args.size
    config.model.dtype = args.dtype
    config.model.dropout = 0.1
    config.model.positions = "learned"  # as BERT
    config.data.max_len = args.seq_len
    config.data.vocab_size = args.vocab_size
    config.objective.kind = "mlm"
    config.objective.mask_rate = 0.15
    config.train.batch_size = args.batch
    config.train.steps = args.warmup + args.steps
    config.train.warmup_steps = args.warmup
    config.train.seed = args.seed
    return config


def make_spec(args) -> dict:
    """Everything both workers need, resolved once here so they cannot disagree."""
    from research.data import tokenizer as tok
    from research.models.encoder import SIZES
    from research.objectives.registry import encoder_config
    from research.train.encoder_step import make_optimizer

    assert set(SIZES) == set(SIZE_NAMES), "update SIZE_NAMES"
    config = run_config(args)
    shape = encoder_config(config, args.vocab_size)
    _, schedule = make_optimizer(config)
    total = args.warmup + args.steps
    return {
        "size": args.size,
        "vocab_size": args.vocab_size,
        "dim": shape.dim,
        "layers": shape.layers,
        "heads": shape.heads,
        "mlp_dim": shape.mlp_dim,
        "max_len": shape.max_len,
        "dropout": shape.dropout,
        "mask_rate": config.objective.mask_rate,
        "mask_id": tok.MASK,
        "first_word_id": len(tok.SPECIAL_TOKENS),
        "learning_rates": [float(schedule(i)) for i in range(total)],
        "weight_decay": config.train.weight_decay,
        "seq_len": args.seq_len,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "seed": args.seed,
        "dtype": args.dtype,
        "torch_bf16": args.torch_bf16,
    }


def split_embedding_params(named_sizes, embedding_names) -> tuple[int, int]:
    total = sum(n for _, n in named_sizes)
    embedding = sum(n for name, n in named_sizes if any(e in name for e in embedding_names))
    return total, total - embedding


def worker_ours(args, spec: dict) -> dict:
    import jax
    import numpy as np

    from research.train.encoder_step import init_state, make_optimizer, make_train_step

    config = run_config(args)
    tx, schedule = make_optimizer(config)
    graphdef, state = init_state(config, spec["vocab_size"], tx)
    step = make_train_step(config, graphdef, tx, schedule)
    named = [
        (jax.tree_util.keystr(path), int(leaf.size))
        for path, leaf in jax.tree_util.tree_flatten_with_path(state["params"])[0]
    ]
    params, non_embedding = split_embedding_params(named, ("token_embed", "position_embed"))
    batches = [jax.device_put(b) for b in token_batches(spec)]
    jax.block_until_ready(batches)

    losses = []
    started = time.perf_counter()
    for i in range(spec["warmup"]):
        state, metrics = step(state, {"tokens": batches[i]})
        losses.append(metrics["loss"])
        if i == 0:
            jax.block_until_ready(state)
            first_step_seconds = time.perf_counter() - started
    jax.block_until_ready(state)
    warmup_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(spec["warmup"], spec["warmup"] + spec["steps"]):
        state, metrics = step(state, {"tokens": batches[i]})
        losses.append(metrics["loss"])  # kept on device: no host sync inside the timed loop
    jax.block_until_ready(state)
    seconds = time.perf_counter() - started

    device = jax.devices()[0]
    return {
        "impl": "ours",
        "version": f"jax {jax.__version__}",
        "platform": device.platform,
        "device_kind": device.device_kind,
        "dtype": spec["dtype"],
        "params": params,
        "non_embedding_params": non_embedding,
        "first_step_seconds": first_step_seconds,
        "warmup_seconds": warmup_seconds,
        "seconds": seconds,
        "losses": [float(x) for x in np.asarray(jax.device_get(losses))],
        "peak_rss_mb": peak_rss_mb(),
        "threads": os.cpu_count(),
    }


def worker_torch(args, spec: dict) -> dict:
    import torch
    import transformers
    from transformers import BertConfig, BertForMaskedLM

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(spec["seed"])
    config = BertConfig(
        vocab_size=spec["vocab_size"],
        hidden_size=spec["dim"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        intermediate_size=spec["mlp_dim"],
        max_position_embeddings=spec["max_len"],
        hidden_dropout_prob=spec["dropout"],
        attention_probs_dropout_prob=spec["dropout"],
        hidden_act="gelu",  # exact erf gelu, as ours
        type_vocab_size=2,
        pad_token_id=0,
        tie_word_embeddings=True,
    )
    model = BertForMaskedLM(config)
    model.train()
    named = [(name, p.numel()) for name, p in model.named_parameters()]  # tied table once
    params, non_embedding = split_embedding_params(
        named, ("word_embeddings", "position_embeddings", "token_type_embeddings")
    )
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    lrs = spec["learning_rates"]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": spec["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lrs[0],
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    batches = torch.from_numpy(token_batches(spec)).long()
    generator = torch.Generator().manual_seed(spec["seed"])
    rate, mask_id, vocab = spec["mask_rate"], spec["mask_id"], spec["vocab_size"]

    def train_step(i: int) -> torch.Tensor:
        tokens = batches[i]
        # BERT masking, as research/objectives/mlm.py: each word position chosen with p = rate.
        chosen = (tokens >= spec["first_word_id"]) & (
            torch.rand(tokens.shape, generator=generator) < rate
        )
        kind = torch.rand(tokens.shape, generator=generator)
        random_tokens = torch.randint(0, vocab, tokens.shape, generator=generator)
        inputs = torch.where(chosen & (kind < 0.8), torch.full_like(tokens, mask_id), tokens)
        inputs = torch.where(chosen & (kind >= 0.8) & (kind < 0.9), random_tokens, inputs)
        labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec["torch_bf16"]):
            loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lrs[i]
        optimizer.step()
        return loss.detach()

    losses = []
    started = time.perf_counter()
    first_step_seconds = float("nan")
    for i in range(spec["warmup"]):
        losses.append(train_step(i))
        if i == 0:
            first_step_seconds = time.perf_counter() - started
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(spec["warmup"], spec["warmup"] + spec["steps"]):
        losses.append(train_step(i))
    seconds = time.perf_counter() - started

    return {
        "impl": "pytorch",
        "version": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "platform": "cpu",
        "device_kind": "cpu",
        "dtype": "bfloat16 autocast" if spec["torch_bf16"] else "float32",
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "params": params,
        "non_embedding_params": non_embedding,
        "first_step_seconds": first_step_seconds,
        "warmup_seconds": warmup_seconds,
        "seconds": seconds,
        "losses": [float(x) for x in losses],
        "peak_rss_mb": peak_rss_mb(),
        "threads": threads,
    }


def run_worker(impl: str, args, spec: dict) -> dict:
    command = [sys.executable, __file__, "--worker", impl, "--spec", json.dumps(spec)]
    command += [
        "--size", args.size, "--seq-len", str(args.seq_len), "--batch", str(args.batch),
        "--steps", str(args.steps), "--warmup", str(args.warmup), "--dtype", args.dtype,
        "--vocab-size", str(args.vocab_size), "--seed", str(args.seed),
    ]  # fmt: skip
    result = run_json_worker(command, impl)
    result["tokens_per_sec"] = args.batch * args.seq_len * args.steps / result["seconds"]
    result["ms_per_step"] = 1000.0 * result["seconds"] / args.steps
    losses = result["losses"]
    if not all(math.isfinite(x) for x in losses):
        raise SystemExit(f"{impl}: non-finite loss {losses}")
    k = max(1, min(3, len(losses) // 3))
    head, tail = sum(losses[:k]) / k, sum(losses[-k:]) / k
    result["loss_first"], result["loss_last"] = head, tail
    print(
        f"    {result['tokens_per_sec']:,.0f} tokens/s, {result['ms_per_step']:.1f} ms/step, "
        f"{result['params']:,} params, peak RSS {result['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
    )
    print(
        f"    loss per step: {' '.join(f'{x:.3f}' for x in losses)}"
        f"  (mean of first {k} {head:.3f} -> last {k} {tail:.3f}"
        f"{', decreasing' if tail < head else ', NOT decreasing'})",
        file=sys.stderr,
        flush=True,
    )
    return result


def mfu_lines(ours: dict, spec: dict) -> list[str]:
    """Model-FLOPs utilisation of ours on a GPU; nothing on CPU."""
    if ours["platform"] != "gpu":
        return [f"- MFU: not reported (ours ran on {ours['platform']})"]
    layers, dim, length = spec["layers"], spec["dim"], spec["seq_len"]
    per_token = 6 * ours["non_embedding_params"] + 12 * layers * dim * length
    head = 6 * spec["vocab_size"] * dim  # tied vocabulary projection, not in the formula
    achieved = ours["tokens_per_sec"] * per_token
    formula = (
        f"FLOPs/token = 6 × non-embedding params + 12 × layers × dim × seq_len = 6 × "
        f"{ours['non_embedding_params']:,} + 12 × {layers} × {dim} × {length} = {per_token:.3e}"
    )
    peak = next((p for name, p in PEAK_BF16 if name in ours["device_kind"]), None)
    if peak is None:
        return [
            f"- MFU ({ours['device_kind']}): unknown peak; achieved {achieved / 1e12:.1f} "
            f"TFLOP/s; {formula}"
        ]
    with_head = ours["tokens_per_sec"] * (per_token + head) / peak
    return [
        f"- MFU ({ours['device_kind']}, peak dense bf16 {peak / 1e12:.0f} TFLOP/s, "
        f"{ours['dtype']}): **{100 * achieved / peak:.1f}%** ({achieved / 1e12:.1f} TFLOP/s); "
        f"{formula}; counting the tied vocabulary projection too (+ 6 × vocab × dim): "
        f"{100 * with_head:.1f}%"
    ]


def median_run(runs: list[dict]) -> dict:
    """The run with the median tokens/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["tokens_per_sec"])
    return ordered[(len(ordered) - 1) // 2]


def table(ours_runs: list[dict], theirs_runs: list[dict], spec: dict, command: str) -> str:
    s = spec
    ours, theirs = median_run(ours_runs), median_run(theirs_runs)
    rounds = len(ours_runs)
    pairs = zip(ours_runs, theirs_runs, strict=True)
    ratios = [a["tokens_per_sec"] / b["tokens_per_sec"] for a, b in pairs]
    median_ratio = statistics.median(ratios)
    lines = [
        f"### encoder MLM training throughput ({s['size']}, seq_len {s['seq_len']}, {s['dtype']})",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; ours on {ours['device_kind']} ({ours['version']}); "
        f"PyTorch on CPU, {theirs['threads']} threads ({theirs['version']}, attention "
        f"{theirs.get('attn_implementation')})",
        f"- date: {datetime.date.today().isoformat()}",
        f"- model: {s['size']} = dim {s['dim']}, {s['layers']} layers, {s['heads']} heads, "
        f"mlp {s['mlp_dim']}, vocab {s['vocab_size']}, max positions {s['max_len']}, "
        f"dropout {s['dropout']}",
        f"- training: batch {s['batch']} × seq_len {s['seq_len']}, {s['warmup']} warm-up steps "
        f"(incl. compilation) then {s['steps']} timed steps; MLM {s['mask_rate']:.0%} of "
        f"positions (80/10/10), Zipf-random tokens; AdamW (weight decay {s['weight_decay']}, "
        f"none on biases/LayerNorm), warm-up+cosine lr peaking at "
        f"{max(s['learning_rates']):g}, global-norm clip 1.0",
        "- tokens/s = batch × seq_len × timed steps / timed wall time",
        f"- {rounds} round(s), each a fresh process per implementation, in alternating order "
        "(ours first in odd rounds, PyTorch first in even ones) so that drift in the machine's "
        "speed hits both alike; each row is that implementation's median round",
        "",
        "| impl | dtype | params | non-embedding | first step s | ms/step | tokens/s "
        "| tokens/s per round | peak RSS MB | loss start → end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r, runs in ((ours, ours_runs), (theirs, theirs_runs)):
        name = "ours (jax)" if r["impl"] == "ours" else "BertForMaskedLM (torch)"
        per_round = " / ".join(f"{x['tokens_per_sec']:,.0f}" for x in runs)
        lines.append(
            f"| {name} | {r['dtype']} | {r['params']:,} | {r['non_embedding_params']:,} "
            f"| {r['first_step_seconds']:.1f} | {r['ms_per_step']:.1f} "
            f"| {r['tokens_per_sec']:,.0f} | {per_round} | {r['peak_rss_mb']:.0f} "
            f"| {r['loss_first']:.3f} → {r['loss_last']:.3f} |"
        )
    lines += [
        "",
        f"- ours / PyTorch: **{median_ratio:.2f}×** tokens/s (median of the rounds' ratios; "
        f"per round {', '.join(f'{x:.2f}×' for x in ratios)}), "
        f"{ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}× peak RSS",
        f"- parameters differ by {theirs['params'] - ours['params']:+,} (BERT − ours): "
        "ours is pre-norm with a final LayerNorm, BERT post-norm with a LayerNorm after the "
        "embeddings (same count), and BERT adds token-type embeddings (2 × dim); both tie the "
        "MLM head to the token embeddings. BERT also applies dropout to attention "
        "probabilities and to the embeddings, which ours does not",
        *mfu_lines(ours, spec),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZE_NAMES, default="mini")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (incl. compile)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="compute dtype of ours")  # fmt: skip
    parser.add_argument("--torch-bf16", action="store_true",
                        help="run PyTorch under bfloat16 autocast (default float32)")  # fmt: skip
    parser.add_argument("--vocab-size", type=int, default=0,
                        help="default: EncoderRunConfig's data.vocab_size")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3,
                        help="fresh-process runs of each implementation, alternating")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default="", help="also write the raw results here")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        raise SystemExit("error: --steps, --warmup and --rounds must be at least 1")
    if args.worker:
        spec = json.loads(args.spec)
        worker = worker_ours if args.worker == "ours" else worker_torch
        print(json.dumps(worker(args, spec)))
        return
    if not args.vocab_size:
        from research.config import EncoderRunConfig

        args.vocab_size = EncoderRunConfig().data.vocab_size
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *sys.argv[1:]]
    )
    spec = make_spec(args)
    runs: dict[str, list[dict]] = {"ours": [], "torch": []}
    for round_index in range(args.rounds):
        order = ("ours", "torch") if round_index % 2 == 0 else ("torch", "ours")
        for impl in order:
            print(f"round {round_index + 1}/{args.rounds}: {impl}", file=sys.stderr, flush=True)
            runs[impl].append(run_worker(impl, args, spec))
    body = table(runs["ours"], runs["torch"], spec, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": spec, "rounds": runs}, indent=2))
    name = f"encoder_throughput {args.size} seq{args.seq_len} {args.dtype}"
    if args.torch_bf16:
        name += " torch-bf16"
    write_section(Path(args.out), name, body)


if __name__ == "__main__":
    main()
