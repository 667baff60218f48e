"""`train_and_evaluate`: the word2vec run from config to evaluated, exported vectors.

Cadence: one jitted call processes `steps_per_dispatch` blocks; metrics stay on the device and
are read only every `log_every` steps and before each checkpoint (the only host-device syncs), so
a checkpoint is never written from a state whose loss went bad. Ctrl-C saves a checkpoint; the
same command with the same --workdir resumes from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from research import config as config_lib
from research import distributed
from research.config import Config
from research.data import corpus as corpus_lib
from research.data import windows
from research.errors import UserError
from research.eval import make_evaluator, run_evaluators
from research.eval.plots import pairs_from_analogy_file, plot_analogy_pairs
from research.eval.report import write_results
from research.eval.vectors import WordVectors
from research.io.checkpoint import Checkpointer
from research.io.writers import MultiWriter, create_writers, git_commit
from research.train import word2vec_step
from research.train.driver import init_or_restore, run_steps
from research.train.nonfinite import TrainingDiverged, guard_nonfinite  # noqa: F401

# Keys that may change when a run is resumed: they do not change what is trained.
RESUMABLE_PREFIXES = (
    "eval.",
    "log.",
    "train.log_every",
    "train.checkpoint_every",
    "train.devices",  # float rounding only
    "train.shard_tables",
    "data.cache_dir",
    "train.allow_config_change",
    "train.cpu_scheduler",  # op order only: the same numbers
)
CLASSIC_PAIRS = [
    ("man", "woman"),
    ("king", "queen"),
    ("he", "she"),
    ("boy", "girl"),
    ("father", "mother"),
    ("brother", "sister"),
    ("son", "daughter"),
]
DEFAULT_PROBE_WORDS = ["king", "woman", "france", "computer", "water", "good", "run"]


def validate(config: Config) -> None:
    """Catch impossible settings before anything is loaded or compiled."""
    checks = [
        (config.model.dim > 0, "model.dim must be positive"),
        (config.data.window >= 1, "data.window must be at least 1"),
        (config.data.negatives >= 1, "data.negatives must be at least 1"),
        (config.data.min_count >= 1, "data.min_count must be at least 1"),
        (config.data.sample >= 0, "data.sample must be >= 0 (0 turns subsampling off)"),
        (config.train.epochs >= 1, "train.epochs must be at least 1"),
        (config.train.learning_rate > 0, "train.learning_rate must be positive"),
        (config.train.chunk_size >= 1, "train.chunk_size must be at least 1"),
        (config.train.shared_negatives >= 0, "train.shared_negatives must be >= 0 (0 = by kind)"),
        (config.train.steps_per_dispatch >= 1, "train.steps_per_dispatch must be at least 1"),
        (config.train.parallel_blocks >= 1, "train.parallel_blocks must be at least 1"),
        (config.train.devices >= 0, "train.devices must be >= 0 (0 = all devices)"),
        (config.train.log_every >= 1, "train.log_every must be at least 1"),
        (config.train.checkpoint_every >= 1, "train.checkpoint_every must be at least 1"),
        (
            config.train.batch_size > 0 and config.train.batch_size % config.train.chunk_size == 0,
            f"train.batch_size={config.train.batch_size} must be a positive multiple of "
            f"train.chunk_size={config.train.chunk_size}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


def check_resume_config(workdir: Path, config: Any, *, announce: bool = True) -> list[str]:
    """Refuse to resume a run whose saved config differs in anything that changes training.

    With train.allow_config_change=true the run resumes; the differences are returned (for
    run.json) and, with `announce`, printed.
    """
    saved_path = workdir / "config.json"
    if not saved_path.exists() or not (workdir / "checkpoints").exists():
        return []
    saved = _flatten(json.loads(saved_path.read_text()))
    current = _flatten(config_lib.to_dict(config))
    changed = [
        f"{key}: {saved.get(key)!r} -> {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key) and not key.startswith(RESUMABLE_PREFIXES)
    ]
    if changed and not config.train.allow_config_change:
        raise UserError(
            f"{workdir} holds a run with a different config ({'; '.join(changed)}); use a new "
            "--workdir, the saved settings, or --set train.allow_config_change=true to resume "
            "with the new ones"
        )
    if changed and announce and distributed.is_main_process():
        print(
            f"resuming {workdir} with a changed config (train.allow_config_change=true): "
            f"{'; '.join(changed)}",
            file=sys.stderr,
        )
    return changed


def check_resume_data(workdir: Path, fingerprint: str, what: str) -> None:
    """Refuse to resume a run whose data changed under the same config (a file edited in place):
    the checkpoint's rows would be read as other words or tokens."""
    run_path = workdir / "run.json"
    if not run_path.exists() or not (workdir / "checkpoints").exists():
        return
    saved = json.loads(run_path.read_text()).get("data_fingerprint")
    if saved is not None and saved != fingerprint:
        raise UserError(
            f"{workdir} was trained with a different {what} (fingerprint {saved} -> "
            f"{fingerprint}): the data behind data.source changed since the run began; use a "
            "new --workdir"
        )


def vocabulary_fingerprint(words: list[str], counts: np.ndarray) -> str:
    digest = hashlib.sha256("\n".join(words).encode())
    digest.update(np.asarray(counts, np.int64).tobytes())
    return digest.hexdigest()[:16]


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def block_groups(
    stream: windows.BlockStream,
    blocks_per_epoch: list[int],
    start: int,
    group_size: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Stacked (ids, docs) of `group_size` blocks from global block `start` on, across epochs.

    The last group is padded with empty blocks (all PAD: no pairs, no updates) so that every
    call has the same shape and nothing recompiles. Yields (ids, docs, real block count).
    """
    size = stream.batch_size + 2 * stream.window
    ids, docs = [], []
    first_block = 0
    for epoch, count in enumerate(blocks_per_epoch):
        if start >= first_block + count:
            first_block += count
            continue
        for block in stream.epoch_blocks(epoch, start=max(0, start - first_block)):
            if block.index >= count:
                break
            ids.append(block.ids)
            docs.append(block.docs)
            if len(ids) == group_size:
                yield np.stack(ids), np.stack(docs), group_size
                ids, docs = [], []
        first_block += count
    if ids:
        real = len(ids)
        empty = np.full(size, windows.PAD, np.int32)
        ids += [empty] * (group_size - real)
        docs += [empty] * (group_size - real)
        yield np.stack(ids), np.stack(docs), real


def parallel_groups(
    groups: Iterator[tuple[np.ndarray, np.ndarray, int]], parallel: int, mesh: Mesh | None
) -> Iterator[tuple[Any, Any, int]]:
    """Groups of S·P blocks from `block_groups` as (S, P, L) arrays (P = parallel > 1), split
    along P over the mesh when there is one: each process transfers only its own blocks."""
    for ids, docs, real in groups:
        if parallel > 1:
            ids = ids.reshape(-1, parallel, ids.shape[-1])
            docs = docs.reshape(-1, parallel, docs.shape[-1])
        if mesh is not None:
            ids, docs = distributed.shard_batch(mesh, (ids, docs), axis=1)
        yield ids, docs, real


def check_mesh(config: Config, mesh: Mesh | None, vocab_size: int | None = None) -> None:
    """The data mesh must split train.parallel_blocks (and with train.shard_tables the
    vocabulary) evenly."""
    devices = distributed.mesh_size(mesh)
    parallel = config.train.parallel_blocks
    if parallel % devices:
        raise UserError(
            f"train.parallel_blocks={parallel} must be a multiple of the {devices} devices of the "
            f"data mesh: set train.parallel_blocks={devices * -(-parallel // devices)}, or "
            "train.devices=1 for one device"
        )
    if config.train.shard_tables and vocab_size is not None and vocab_size % devices:
        raise UserError(
            f"train.shard_tables splits the vocabulary of {vocab_size} words over {devices} "
            f"devices, which needs a multiple of {devices}: set "
            f"data.max_vocab={vocab_size - vocab_size % devices}"
        )


def position_of(block: int, blocks_per_epoch: list[int]) -> dict:
    epoch = 0
    remaining = block
    while epoch < len(blocks_per_epoch) and remaining >= blocks_per_epoch[epoch]:
        remaining -= blocks_per_epoch[epoch]
        epoch += 1
    return {"block": block, "epoch": epoch, "block_in_epoch": remaining}


@dataclasses.dataclass
class TrainedRun:
    vectors: WordVectors
    corpus: corpus_lib.WordCorpus
    world_files: dict
    steps: int
    train_seconds: float  # wall time of the training loop of this invocation, compile included


def train_and_evaluate(config: Config, workdir: str | Path) -> dict[str, float]:
    """Train word2vec as configured, evaluate it, and write every artefact into `workdir`."""
    workdir = Path(workdir)
    validate(config)
    workdir.mkdir(parents=True, exist_ok=True)
    check_resume_config(workdir, config, announce=False)
    writer = create_writers(workdir, config)
    try:
        run = fit(config, workdir, writer)
        if not distributed.is_main_process():
            return {}  # process 0 evaluates and writes the results
        results = evaluate_and_report(config, workdir, run)
        writer.summary(results)
    finally:
        writer.close()
    return results


def fit(config: Config, workdir: str | Path, writer: MultiWriter | None = None) -> TrainedRun:
    """Train (or resume) word2vec in `workdir`; the evaluators are built first so that a bad
    benchmark file is reported before any training time is spent."""
    validate(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_changes = check_resume_config(workdir, config)
    if distributed.is_main_process():
        (workdir / "config.json").write_text(config_lib.to_json(config) + "\n")
    mesh = distributed.data_mesh(config.train.devices)
    check_mesh(config, mesh)

    corpus = distributed.main_process_first(
        "word2vec corpus",
        lambda: corpus_lib.prepare_corpus(config.data, progress=config.log.progress),
    )
    check_mesh(config, mesh, corpus.vocab_size)
    data_fingerprint = vocabulary_fingerprint(list(corpus.words), corpus.counts)
    check_resume_data(workdir, data_fingerprint, "vocabulary")
    _, world_files = corpus_lib.resolve_data_source(config.data)
    build_evaluators(config, world_files, None)  # fail now on a bad benchmark file
    keep = windows.keep_probabilities(corpus.counts, config.data.sample)
    stream = windows.BlockStream(
        corpus.tokens,
        corpus.doc_offsets,
        keep,
        batch_size=config.train.batch_size,
        window=config.data.window,
        seed=config.train.seed,
    )
    blocks_per_epoch = [stream.blocks_in_epoch(e) for e in range(config.train.epochs)]
    total_blocks = sum(blocks_per_epoch)
    if total_blocks == 0:
        kept = int((corpus.counts * keep).sum())
        raise UserError(
            f"the corpus keeps about {kept} tokens per epoch after subsampling, fewer than one "
            f"block of train.batch_size={config.train.batch_size}; lower train.batch_size or "
            "use a larger corpus"
        )

    # One optimizer step per train.parallel_blocks blocks.
    sgd_steps = -(-total_blocks // config.train.parallel_blocks)
    tx, schedule = word2vec_step.make_optimizer(config, sgd_steps)
    checkpointer = Checkpointer(workdir / "checkpoints")
    graphdef, state, shardings, position = init_or_restore(
        lambda: word2vec_step.init_state(config, corpus.vocab_size, tx),
        checkpointer,
        None
        if mesh is None
        else lambda abstract: word2vec_step.state_shardings(
            abstract, mesh, config.train.shard_tables
        ),
    )
    start = 0
    if position is not None:
        start = int(position["block"])
        if distributed.is_main_process():
            print(
                f"resuming from step {start} of {total_blocks} ({workdir / 'checkpoints'})",
                file=sys.stderr,
            )

    run_info = {
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "corpus": corpus.meta,
        "total_steps": total_blocks,
        "blocks_per_epoch": blocks_per_epoch,
        "data_fingerprint": data_fingerprint,
    }
    if config_changes:
        run_info["resumed_with_config_changes"] = config_changes
    if distributed.is_main_process():
        (workdir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
    owns_writer = writer is None
    if owns_writer:
        writer = create_writers(workdir, config, wandb=False)
    started = time.time()
    try:
        state = _train(
            config,
            graphdef,
            state,
            tx,
            schedule,
            corpus,
            stream,
            blocks_per_epoch,
            start,
            checkpointer,
            writer,
            mesh=mesh,
            shardings=shardings,
        )
        train_seconds = time.time() - started
        vectors = WordVectors(
            list(corpus.words),
            np.asarray(distributed.to_local(state["params"]["input_embeddings"][...])),
            corpus.counts,
        )
    finally:
        if owns_writer:
            writer.close()
        checkpointer.close()
    return TrainedRun(vectors, corpus, world_files, total_blocks, train_seconds)


def _train(
    config,
    graphdef,
    state,
    tx,
    schedule,
    corpus,
    stream,
    blocks_per_epoch,
    start,
    checkpointer,
    writer,
    *,
    mesh: Mesh | None = None,
    shardings: dict | None = None,
):
    total_blocks = sum(blocks_per_epoch)
    if start >= total_blocks:
        return state
    group = config.train.steps_per_dispatch
    train_step = word2vec_step.make_train_step(
        config,
        graphdef,
        tx,
        schedule,
        windows.noise_distribution(corpus.counts),
        mesh=mesh,
        shardings=shardings,
    )
    words_per_block = config.train.batch_size
    progress = _progress_bar(config, total_blocks * words_per_block, start * words_per_block)
    pending: list[tuple[int, dict]] = []
    block = start
    last_log_block = start
    last_log_time = time.time()
    compile_seconds = None

    def flush_metrics() -> None:
        nonlocal last_log_block, last_log_time
        if not pending:
            return
        fetched = jax.device_get([m for _, m in pending])
        pairs = sum(float(m["pairs"]) for m in fetched)
        loss = sum(float(m["loss"]) * float(m["pairs"]) for m in fetched) / max(pairs, 1.0)
        guard_nonfinite(
            loss,
            fetched[-1],
            config.train.skip_nonfinite,
            last_log_block,
            block,
            config.train.learning_rate,
        )
        now = time.time()
        metrics = {
            "loss": loss if pairs > 0 else math.nan,
            "learning_rate": float(fetched[-1]["learning_rate"]),
            "epoch": position_of(block, blocks_per_epoch)["epoch"],
            "words_per_sec": (block - last_log_block)
            * words_per_block
            / max(now - last_log_time, 1e-9),
        }
        if "skipped_steps" in fetched[-1]:
            metrics["skipped_steps"] = int(fetched[-1]["skipped_steps"])
        if compile_seconds is not None and last_log_block == start:
            metrics["compile_seconds"] = compile_seconds
        writer.write(block, metrics)
        if progress is not None:
            progress.set_postfix(loss=f"{loss:.4f}", lr=f"{metrics['learning_rate']:.5f}")
        pending.clear()
        last_log_block, last_log_time = block, now

    def save() -> None:
        flush_metrics()  # never checkpoint a state whose loss went bad
        checkpointer.save(block, state, position_of(block, blocks_per_epoch))

    parallel = config.train.parallel_blocks
    groups = windows.prefetch(
        parallel_groups(
            block_groups(stream, blocks_per_epoch, start, group * parallel), parallel, mesh
        )
    )

    def advance(group: tuple) -> tuple[int, int]:
        nonlocal state, block, compile_seconds
        ids, docs, real = group
        t0 = time.time()
        state, metrics = train_step(state, ids, docs)
        if compile_seconds is None:
            jax.block_until_ready(metrics)
            compile_seconds = time.time() - t0
        block += real
        pending.append((block, metrics))
        return block - real, block

    run_steps(
        groups,
        advance,
        total=total_blocks,
        log_every=config.train.log_every,
        checkpoint_every=config.train.checkpoint_every,
        flush=flush_metrics,
        save=save,
        progress=progress,
        progress_unit=words_per_block,
    )
    return state


def _progress_bar(config: Config, total: int, initial: int):
    if not config.log.progress or not distributed.is_main_process():
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="word",
        unit_scale=True,
        desc="training",
        dynamic_ncols=True,
        smoothing=0.1,
    )


def build_evaluators(config: Config, world_files: dict, vectors: WordVectors | None) -> list:
    """The configured evaluators. Without vectors, the neighbour queries are left to defaults."""
    evaluators = []
    if world_files and config.eval.synthetic:
        evaluators.append(
            make_evaluator(
                "analogy",
                name="synthetic_analogy",
                path=world_files["analogy"],
                restrict_vocab=config.eval.restrict_vocab,
            )
        )
        evaluators.append(
            make_evaluator(
                "word_similarity", name="synthetic_similarity", path=world_files["similarity"]
            )
        )
    if config.eval.wordsim:
        evaluators.append(
            make_evaluator(
                "word_similarity", name=_eval_name(config.eval.wordsim), path=config.eval.wordsim
            )
        )
    if config.eval.analogy:
        evaluators.append(
            make_evaluator(
                "analogy",
                name=_eval_name(config.eval.analogy),
                path=config.eval.analogy,
                restrict_vocab=config.eval.restrict_vocab,
            )
        )
    words = [w.strip() for w in config.eval.neighbours.split(",") if w.strip()]
    if not words and vectors is not None:
        words = [w for pair in _plot_pairs(config, world_files, vectors)[:3] for w in pair]
        words = words or DEFAULT_PROBE_WORDS
    evaluators.append(make_evaluator("nearest_neighbours", name="neighbours", words=words))
    return evaluators


def _eval_name(path: str) -> str:
    return Path(path).stem.replace("-", "_").lower()


def _plot_pairs(config: Config, world_files: dict, vectors: WordVectors) -> list[tuple[str, str]]:
    if world_files:
        manifest = json.loads(Path(world_files["manifest"]).read_text())
        pairs = [tuple(p) for p in manifest.get("plot_pairs", [])]
        if pairs:
            return pairs
    if config.eval.analogy:
        pairs = pairs_from_analogy_file(config.eval.analogy, vectors)
        if pairs:
            return pairs
    return [p for p in CLASSIC_PAIRS if p[0] in vectors and p[1] in vectors]


def evaluate_and_report(config: Config, workdir: Path, run: TrainedRun) -> dict[str, float]:
    """Run the configured evaluators and write results.json, results.md, vectors and the plot."""
    vectors, world_files, corpus, steps = run.vectors, run.world_files, run.corpus, run.steps
    evaluators = build_evaluators(config, world_files, vectors)
    results, extra = run_evaluators(evaluators, vectors)
    vectors.save_word2vec_text(workdir / "vectors.txt")
    pairs = _plot_pairs(config, world_files, vectors)
    plot_analogy_pairs(vectors, pairs, workdir / "plots" / "analogy_pca.png")
    plot_loss(workdir)
    provenance = {
        "experiment": config.name,
        "model": f"{config.model.kind}, dim {config.model.dim}",
        "data": corpus.meta.get("source_description", config.data.source),
        "tokens (in vocabulary)": corpus.num_tokens,
        "vocabulary": corpus.vocab_size,
        "window / negatives / sample": (
            f"{config.data.window} / {config.data.negatives} / {config.data.sample}"
        ),
        "epochs / steps / batch": f"{config.train.epochs} / {steps} / {config.train.batch_size}",
        "seed": config.train.seed,
        "git commit": git_commit(),
    }
    print(write_results(workdir, results, provenance, extra))
    return results


def plot_loss(workdir: Path) -> None:
    """plots/loss.png: the training loss and learning rate from metrics.jsonl."""
    path = workdir / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("loss") is not None]
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, loss_axis = plt.subplots(figsize=(6, 3.5))
    loss_axis.plot(steps, [r["loss"] for r in rows], color="tab:blue")
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel("loss per pair", color="tab:blue")
    lr_axis = loss_axis.twinx()
    lr_axis.plot(steps, [r["learning_rate"] for r in rows], color="tab:orange", alpha=0.6)
    lr_axis.set_ylabel("learning rate", color="tab:orange")
    fig.tight_layout()
    (workdir / "plots").mkdir(exist_ok=True)
    fig.savefig(workdir / "plots" / "loss.png", dpi=120)
    plt.close(fig)
