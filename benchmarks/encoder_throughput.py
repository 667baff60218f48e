"""MLM training throughput: this project's encoder train step against Hugging Face BERT (PyTorch).

    python benchmarks/encoder_throughput.py --size mini --seq-len 128 --batch 32

Runs (a) this project's jitted, state-donating MLM train step (research/train/encoder_step.py:
TextModel + tied MLM head, AdamW, global-norm clipping 1.0, masking inside the step), built from
an EncoderRunConfig of the chosen size, (b) transformers' BertForMaskedLM in eager PyTorch and
(c) the same under `torch.compile`, on the GPU when PyTorch sees one, else on the CPU, doing the
same work: the same shape (hidden, layers, heads, intermediate, vocab, max positions), with
`--arch bert` (the default) ours built in BERT's layout (post-norm, token-type table, LayerNorm
and dropout on the embeddings, dropout 0.1 on the attention probabilities, eps 1e-12), the same
batches, the same masking (15% of positions labelled; 80% [MASK], 10% random, 10% kept; at most
`max_predictions` per row), the vocabulary scored only at the masked positions on both sides
(gathered into one fixed shape, as BERT's `gather_indexes`), dropout 0.1 (`--dropout`), AdamW
(PyTorch's fused one) with the same learning-rate schedule, weight decay (not on biases and
LayerNorm parameters) and clipping 1.0. `--arch ours` keeps our default pre-norm layout (BERT
then does more dropout work). Each implementation runs in its own subprocess, so peak RSS is
per implementation. Batches are random tokens drawn from a Zipf distribution (so the loss can
fall below log(vocab) by learning unigram frequencies, which shows that all really train),
generated before timing and fed straight to the step: no host data pipeline is measured.

tokens/s = batch x seq_len x timed steps / wall time of the timed steps; the warm-up steps before
them include compilation (ours, torch.compile) and allocator warm-up (all). `--rounds N`
(default 3) runs each implementation N times in fresh processes, rotating the order; each
headline ratio is the median of the per-round ratios, since on a shared machine one pair of runs
moved the ratio by several per cent. The table is written into BENCHMARKS.md between markers
named after size, sequence length and dtype (replacing a previous table of the same name), with
the command, machine and date. When JAX runs on a GPU, model-FLOPs utilisation is reported for
ours (formula in the output).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_common import invocation, machine, peak_rss_mb, run_json_worker, write_section  # noqa: E402

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
    config.model.dropout = args.dropout
    config.model.positions = "learned"  # as BERT
    if args.arch == "bert":
        # BERT's own layout (post-norm, token types, LayerNorm + dropout on the embeddings,
        # dropout on the attention probabilities, eps 1e-12), so both sides do the same work.
        config.model.norm = "post"
        config.model.token_types = 2
        config.model.embed_norm = True
        config.model.attention_dropout = args.attention_dropout
        config.model.norm_eps = 1e-12
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
    from research.objectives.mlm import default_max_predictions
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
        "attention_dropout": shape.attention_dropout,
        "norm_eps": shape.norm_eps,
        "arch": args.arch,
        "mask_rate": config.objective.mask_rate,
        "max_predictions": default_max_predictions(args.seq_len, config.objective.mask_rate),
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
        "torch_attention": args.torch_attention,
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
    params, non_embedding = split_embedding_params(
        named, ("token_embed", "position_embed", "type_embed")
    )
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


def worker_torch(args, spec: dict, compiled: bool = False) -> dict:
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import BertConfig, BertForMaskedLM

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
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
        attention_probs_dropout_prob=spec["attention_dropout"],
        layer_norm_eps=spec["norm_eps"],
        hidden_act="gelu",  # exact erf gelu, as ours
        type_vocab_size=2,
        pad_token_id=0,
        tie_word_embeddings=True,
        # "eager" is transformers' own attention: the per-head products, softmax and dropout as
        # separate ops, as ours; "sdpa" (its default) lets PyTorch pick a fused kernel, which on
        # the CPU it does only without attention dropout.
        attn_implementation=spec["torch_attention"],
    )
    model = BertForMaskedLM(config).to(device)
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
        fused=True,  # PyTorch's fastest AdamW, on CPU and CUDA alike
    )
    batches = torch.from_numpy(token_batches(spec)).long().to(device)
    generator = torch.Generator(device=device).manual_seed(spec["seed"])
    rate, mask_id, vocab = spec["mask_rate"], spec["mask_id"], spec["vocab_size"]
    max_predictions = spec["max_predictions"]

    def masked_loss(inputs, tokens, chosen):
        # The same work as ours (research/objectives/mlm.py): the vocabulary is scored only at
        # each row's first `max_predictions` chosen positions, gathered into a fixed shape (so
        # torch.compile sees one shape), padded slots weighted 0.
        hidden = model.bert(input_ids=inputs).last_hidden_state
        order = torch.argsort((~chosen).to(torch.int8), dim=-1, stable=True)[:, :max_predictions]
        valid = torch.gather(chosen, 1, order).reshape(-1).float()
        gathered = torch.gather(hidden, 1, order[..., None].expand(-1, -1, hidden.shape[-1]))
        logits = model.cls(gathered).float().reshape(-1, vocab)
        targets = torch.gather(tokens, 1, order).reshape(-1)
        nll = F.cross_entropy(logits, targets, reduction="none")
        return (nll * valid).sum() / valid.sum().clamp(min=1.0)

    loss_fn = torch.compile(masked_loss) if compiled else masked_loss

    def train_step(i: int) -> torch.Tensor:
        tokens = batches[i]
        # BERT masking, as research/objectives/mlm.py: each word position chosen with p = rate,
        # at most max_predictions per row (the first ones).
        chosen = (tokens >= spec["first_word_id"]) & (
            torch.rand(tokens.shape, generator=generator, device=device) < rate
        )
        chosen = chosen & (torch.cumsum(chosen.int(), dim=-1) <= max_predictions)
        kind = torch.rand(tokens.shape, generator=generator, device=device)
        random_tokens = torch.randint(0, vocab, tokens.shape, generator=generator, device=device)
        inputs = torch.where(chosen & (kind < 0.8), torch.full_like(tokens, mask_id), tokens)
        inputs = torch.where(chosen & (kind >= 0.8) & (kind < 0.9), random_tokens, inputs)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec["torch_bf16"]):
            loss = loss_fn(inputs, tokens, chosen)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lrs[i]
        optimizer.step()
        return loss.detach()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    losses = []
    started = time.perf_counter()
    first_step_seconds = float("nan")
    for i in range(spec["warmup"]):
        losses.append(train_step(i))
        if i == 0:
            sync()
            first_step_seconds = time.perf_counter() - started
    sync()
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(spec["warmup"], spec["warmup"] + spec["steps"]):
        losses.append(train_step(i))  # kept on device: no host sync inside the timed loop
    sync()
    seconds = time.perf_counter() - started

    kind_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "impl": "torch_compile" if compiled else "torch",
        "version": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "platform": device.type,
        "device_kind": kind_name,
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
        "--vocab-size", str(args.vocab_size), "--seed", str(args.seed), "--arch", args.arch,
        "--attention-dropout", str(args.attention_dropout), "--dropout", str(args.dropout),
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


IMPL_NAMES = {
    "ours": "ours (jax)",
    "torch": "BertForMaskedLM (torch eager)",
    "torch_compile": "BertForMaskedLM (torch.compile)",
}


def table(runs: dict[str, list[dict]], spec: dict, command: str) -> str:
    s = spec
    ours_runs = runs["ours"]
    ours = median_run(ours_runs)
    peers = [impl for impl in ("torch", "torch_compile") if runs.get(impl)]
    any_peer = median_run(runs[peers[0]])
    rounds = len(ours_runs)
    architecture = (
        "BERT's layout on both sides (post-norm, token types, LayerNorm and dropout "
        f"{s['dropout']:g} on the embeddings, dropout {s['attention_dropout']:g} on the attention "
        "probabilities, LayerNorm eps 1e-12)"
        if s["arch"] == "bert"
        else "ours pre-norm with a final LayerNorm and no attention or embedding dropout; BERT "
        "post-norm with both (so BERT does more dropout work)"
    )
    lines = [
        f"### encoder MLM training throughput ({s['size']}, seq_len {s['seq_len']}, {s['dtype']})",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; ours on {ours['device_kind']} ({ours['version']}); "
        f"PyTorch on {any_peer['device_kind']}, {any_peer['threads']} CPU threads "
        f"({any_peer['version']}, attention {any_peer.get('attn_implementation')}, fused AdamW)",
        f"- date: {datetime.date.today().isoformat()}",
        f"- model: {s['size']} = dim {s['dim']}, {s['layers']} layers, {s['heads']} heads, "
        f"mlp {s['mlp_dim']}, vocab {s['vocab_size']}, max positions {s['max_len']}, "
        f"dropout {s['dropout']}; {architecture}",
        f"- training: batch {s['batch']} × seq_len {s['seq_len']}, {s['warmup']} warm-up steps "
        f"(incl. compilation) then {s['steps']} timed steps; MLM {s['mask_rate']:.0%} of "
        f"positions (80/10/10), the vocabulary scored only at each row's first "
        f"{s['max_predictions']} masked positions on both sides (BERT's gather_indexes); "
        f"Zipf-random tokens; AdamW (weight decay {s['weight_decay']}, "
        f"none on biases/LayerNorm), warm-up+cosine lr peaking at "
        f"{max(s['learning_rates']):g}, global-norm clip 1.0",
        "- tokens/s = batch × seq_len × timed steps / timed wall time",
        f"- {rounds} round(s), each a fresh process per implementation, the order rotating "
        "between rounds so that drift in the machine's speed hits all alike; each row is that "
        "implementation's median round",
        "",
        "| impl | dtype | params | non-embedding | first step s | ms/step | tokens/s "
        "| tokens/s per round | peak RSS MB | loss start → end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for impl in ("ours", *peers):
        r = median_run(runs[impl])
        per_round = " / ".join(f"{x['tokens_per_sec']:,.0f}" for x in runs[impl])
        lines.append(
            f"| {IMPL_NAMES[impl]} | {r['dtype']} | {r['params']:,} | "
            f"{r['non_embedding_params']:,} | {r['first_step_seconds']:.1f} | "
            f"{r['ms_per_step']:.1f} | {r['tokens_per_sec']:,.0f} | {per_round} | "
            f"{r['peak_rss_mb']:.0f} | {r['loss_first']:.3f} → {r['loss_last']:.3f} |"
        )
    lines.append("")
    for impl in peers:
        pairs = zip(ours_runs, runs[impl], strict=True)
        ratios = [a["tokens_per_sec"] / b["tokens_per_sec"] for a, b in pairs]
        theirs = median_run(runs[impl])
        lines.append(
            f"- ours / {IMPL_NAMES[impl]}: **{statistics.median(ratios):.2f}×** tokens/s "
            f"(median of the rounds' ratios; per round {', '.join(f'{x:.2f}×' for x in ratios)}"
            f"), {ours['peak_rss_mb'] / theirs['peak_rss_mb']:.2f}× peak RSS"
        )
    lines.append(
        f"- parameters differ by {any_peer['params'] - ours['params']:+,} (BERT − ours)"
        + ("" if s["arch"] == "bert" else ": BERT adds token-type embeddings (2 × dim)")
        + "; both tie the MLM head to the token embeddings"
    )
    lines += mfu_lines(ours, spec)
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
    parser.add_argument("--arch", choices=["bert", "ours"], default="bert",
                        help="bert: ours built with BERT's layout, so both do the same work; "
                        "ours: our default pre-norm layout")  # fmt: skip
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="dropout on the attention and MLP outputs (and, --arch bert, the "
                        "embeddings), both sides (BERT: 0.1); 0 with --attention-dropout 0 "
                        "times the step without random masks")  # fmt: skip
    parser.add_argument("--torch-attention", choices=["sdpa", "eager"], default="sdpa",
                        help="transformers' attention implementation: sdpa (its default; "
                        "PyTorch's fused kernel where it applies) or eager (separate products, "
                        "softmax and dropout, as ours)")  # fmt: skip
    parser.add_argument("--attention-dropout", type=float, default=0.1,
                        help="--arch bert: dropout on the attention probabilities, both sides "
                        "(BERT: 0.1)")  # fmt: skip
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the torch.compile row")  # fmt: skip
    parser.add_argument("--worker", choices=list(IMPL_NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        raise SystemExit("error: --steps, --warmup and --rounds must be at least 1")
    if args.arch == "ours" and args.attention_dropout != 0.1:
        # Our pre-norm layout keeps its own default (no dropout on the attention probabilities)
        # on both sides; a value here would change nothing and still name the section.
        raise SystemExit(
            "error: --attention-dropout applies to --arch bert only (--arch ours runs our "
            "default layout, without attention dropout): drop it or use --arch bert"
        )
    if args.worker:
        spec = json.loads(args.spec)
        if args.worker == "ours":
            result = worker_ours(args, spec)
        else:
            result = worker_torch(args, spec, compiled=args.worker == "torch_compile")
        print(json.dumps(result))
        return
    if not args.vocab_size:
        from research.config import EncoderRunConfig

        args.vocab_size = EncoderRunConfig().data.vocab_size
    command = invocation(__file__)
    spec = make_spec(args)
    impls = ["ours", "torch"] + ([] if args.no_compile else ["torch_compile"])
    runs: dict[str, list[dict]] = {impl: [] for impl in impls}
    for round_index in range(args.rounds):
        shift = round_index % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            print(f"round {round_index + 1}/{args.rounds}: {impl}", file=sys.stderr, flush=True)
            runs[impl].append(run_worker(impl, args, spec))
    body = table(runs, spec, command)
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps({"spec": spec, "rounds": runs}, indent=2))
    name = f"encoder_throughput {args.size} seq{args.seq_len} {args.dtype}"
    if args.torch_bf16:
        name += " torch-bf16"
    if args.arch != "bert":
        name += f" arch-{args.arch}"
    if args.attention_dropout != 0.1:  # --arch bert only (main refuses it with ours)
        name += f" attention-dropout-{args.attention_dropout:g}"
    if args.dropout != 0.1:
        name += f" dropout-{args.dropout:g}"
    if args.torch_attention != "sdpa":
        name += f" torch-attention-{args.torch_attention}"
    write_section(Path(args.out), name, body)


if __name__ == "__main__":
    main()
