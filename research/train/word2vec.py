"""The word2vec family (skip-gram and CBOW with negative sampling or hierarchical softmax):
`train_and_evaluate` from a config to evaluated, exported vectors.

What is particular to word2vec lives here: its corpus (research/data/corpus.py), its blocks
(research/data/windows.py, research/data/blocks.py), its evaluators and report. The state and
jitted step are in train/word2vec_step.py, the step loop in train/loop.py and the run contract
(config.json, run.json, resume checks) in train/workdir.py. One jitted call processes
`steps_per_dispatch` blocks (lax.scan); metrics stay on the device until a log boundary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from jax.sharding import Mesh

from research import config as config_lib
from research import distributed
from research.config import Config
from research.data import corpus as corpus_lib
from research.data import phrases, windows
from research.data.blocks import block_groups, block_stream, parallel_groups, position_of
from research.errors import UserError
from research.eval import evaluators_from_config, run_evaluators
from research.eval.report import write_results
from research.eval.suites import resolve_evals, word_vectors_suite
from research.eval.vectors import WordVectors
from research.io.checkpoint import Checkpointer
from research.io.writers import MultiWriter, create_writers, git_commit
from research.objectives import hierarchical_softmax
from research.train import loop, word2vec_step
from research.train import workdir as run_files

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
        (
            config.model.output == "hs" or config.data.negatives >= 1,
            "data.negatives must be at least 1 (or model.output=hs with data.negatives=0)",
        ),
        (config.data.min_count >= 1, "data.min_count must be at least 1"),
        (config.data.sample >= 0, "data.sample must be >= 0 (0 turns subsampling off)"),
        (config.train.epochs >= 1, "train.epochs must be at least 1"),
        (config.train.learning_rate >= 0, "train.learning_rate must be >= 0 (0 = by kind)"),
        (config.train.chunk_size >= 1, "train.chunk_size must be at least 1"),
        (config.train.shared_negatives >= 0, "train.shared_negatives must be >= 0 (0 = by kind)"),
        (
            config.train.row_hit_cap >= -1,
            "train.row_hit_cap must be >= 0 (0 = off), or -1 for the model's default",
        ),
        (
            config.train.curvature_bound == -1
            or (math.isfinite(config.train.curvature_bound) and config.train.curvature_bound >= 0),
            "train.curvature_bound must be a finite number >= 0 (0 = off), or -1 to decide by the "
            "step's crowding",
        ),
        (
            config.train.curvature_bound <= 0 or not config.train.shard_tables,
            "train.curvature_bound sums each row's step in replicated vocabulary-sized buffers "
            "(V x D at large P), which train.shard_tables is meant to avoid: set one of them off",
        ),
        (
            config.train.curvature_bound <= 0 or config.model.output == "negative",
            f"train.curvature_bound={config.train.curvature_bound:g} is implemented for negative "
            f"sampling only (this run: model.output={config.model.output}): set it to 0",
        ),
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
    if config.model.output == "hs":
        validate_hierarchical_softmax(config)
    phrases.PhraseSettings.from_data_config(config.data)  # raises on a bad phrase setting


def validate_hierarchical_softmax(config: Config) -> None:
    """model.output=hs replaces the negatives (word2vec.c -hs 1 -negative 0): a setting of
    negative sampling left on would silently do nothing, so it is refused. Combining both
    outputs, as word2vec.c and gensim allow, is not supported."""
    if config.data.negatives != 0:
        raise UserError(
            f"model.output=hs trains without negatives but data.negatives={config.data.negatives}:"
            " set data.negatives=0 (hierarchical softmax and negative sampling together are not "
            "supported)"
        )
    for key, value, off in (
        ("train.shared_negatives", config.train.shared_negatives, 0),
        ("train.reject_target_negatives", config.train.reject_target_negatives, False),
    ):
        if value != off:
            raise UserError(
                f"{key}={json.dumps(value)} is a negative-sampling setting and model.output=hs "
                f"draws no negatives: leave it at {json.dumps(off)}"
            )


def resolve_model_defaults(config: Config) -> Config:
    """The config with the model-dependent defaults of train.learning_rate and row_hit_cap
    filled in, so that config.json names what the run trains with and a resume compares those
    values, not the defaults' placeholders."""
    train = dataclasses.replace(
        config.train,
        learning_rate=config_lib.word2vec_learning_rate(config),
        row_hit_cap=config_lib.row_hit_cap(config),
    )
    return dataclasses.replace(config, train=train)


def resolve_parallel_blocks(config: Config, mesh: Mesh | None) -> Config:
    """The default train.parallel_blocks=1 has no blocks to split over several devices: use one
    block per device instead of refusing, and say so in one line (explicit values are kept)."""
    devices = distributed.mesh_size(mesh)
    if devices == 1 or config.train.parallel_blocks != 1:
        return config
    if distributed.is_main_process():
        print(
            f"train.parallel_blocks=1 has nothing to split over {devices} devices: using "
            f"train.parallel_blocks={devices} (set train.devices=1 for one device)",
            flush=True,
        )
    train = dataclasses.replace(config.train, parallel_blocks=devices)
    return dataclasses.replace(config, train=train)


def check_resume_parallel_blocks(workdir: Path, config: Config, mesh: Mesh | None) -> None:
    """Refuse to resume with another resolved train.parallel_blocks than the run began with
    (the default 1 becomes one block per device, so a run resumed on another number of devices
    would): its checkpoints count SGD steps of that many blocks, and a different P would replay
    or skip data."""
    saved = run_files.saved_run_value(workdir, "parallel_blocks")
    resolved = config.train.parallel_blocks
    if saved is not None and saved != resolved:
        raise UserError(
            f"{workdir} was trained with train.parallel_blocks={saved} and would resume with "
            f"{resolved} (on {distributed.mesh_size(mesh)} devices): resume with "
            f"train.devices={saved} devices or an explicit train.parallel_blocks={saved}, or "
            "use a new --workdir"
        )


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
    if config.train.shard_tables and devices > 1 and config.model.output == "hs":
        # The two tables have V and V - 1 rows: no vocabulary splits both evenly.
        raise UserError(
            "train.shard_tables does not support model.output=hs (its output table has one row "
            "fewer than the vocabulary): set train.shard_tables=false"
        )
    if config.train.shard_tables and vocab_size is not None and vocab_size % devices:
        raise UserError(
            f"train.shard_tables splits the vocabulary of {vocab_size} words over {devices} "
            f"devices, which needs a multiple of {devices}: set "
            f"data.max_vocab={vocab_size - vocab_size % devices}"
        )


@dataclasses.dataclass
class TrainedRun:
    vectors: WordVectors
    corpus: corpus_lib.WordCorpus
    world_files: dict
    steps: int
    train_seconds: float  # wall time of the training loop of this invocation, compile included


def train_and_evaluate(
    config: Config,
    workdir: str | Path,
    *,
    optimizer: Callable | None = None,
    schedule: Callable | None = None,
) -> dict[str, float]:
    """Train word2vec as configured, evaluate it, and write every artefact into `workdir`.

    optimizer(config, schedule) and schedule(config, total_steps) replace word2vec's SGD and
    linear decay (experiment files define them; the optimizer must be stateless per row)."""
    validate(config)
    config = resolve_model_defaults(config)
    workdir, config_changes = run_files.open_run(workdir, config)
    writer = create_writers(workdir, config)
    try:
        run = _fit(config, workdir, writer, config_changes, optimizer, schedule)
        if not distributed.is_main_process():
            return {}  # process 0 evaluates and writes the results
        results = evaluate_and_report(config, workdir, run)
        writer.summary(results)
    finally:
        writer.close()
    return results


def build_evaluators(config: Config, world_files: dict, vectors: WordVectors | None) -> list:
    """The default suite (unless eval.default_suite=false), config.evals, and the nearest-
    neighbour table (without vectors, its query words are left to defaults)."""
    suite = word_vectors_suite(world_files) if config.eval.default_suite else {}
    words = list(config.eval.neighbours)
    if not words and vectors is not None:
        words = [w for pair in _plot_pairs(config, world_files, vectors)[:3] for w in pair]
        words = words or DEFAULT_PROBE_WORDS
    neighbours = {"neighbours": {"kind": "nearest_neighbours", "words": words}}
    evals = resolve_evals(suite, config.evals, family="word", data_dir=config.eval.data_dir)
    return evaluators_from_config({**evals, **neighbours})


def fit(
    config: Config,
    workdir: str | Path,
    *,
    optimizer: Callable | None = None,
    schedule: Callable | None = None,
) -> TrainedRun:
    """Train (or resume) word2vec in `workdir` without evaluating (benchmarks time this)."""
    validate(config)
    config = resolve_model_defaults(config)
    workdir, config_changes = run_files.open_run(workdir, config)
    writer = create_writers(workdir, config, wandb=False)
    try:
        return _fit(config, workdir, writer, config_changes, optimizer, schedule)
    finally:
        writer.close()


def _fit(
    config: Config,
    workdir: Path,
    writer: MultiWriter,
    config_changes: list[str],
    optimizer: Callable | None,
    schedule: Callable | None,
) -> TrainedRun:
    """The evaluators are built first, so that a bad benchmark file is reported before any
    training time is spent."""
    mesh = distributed.data_mesh(config.train.devices)
    config = resolve_parallel_blocks(config, mesh)
    check_mesh(config, mesh)
    corpus = distributed.main_process_first(
        "word2vec corpus",
        lambda: corpus_lib.prepare_corpus(config.data, progress=config.log.progress),
    )
    check_mesh(config, mesh, corpus.vocab_size)
    if distributed.is_main_process() and corpus.meta.get("phrase_passes"):
        print(phrase_summary(corpus.meta), flush=True)
    fingerprint = run_files.vocabulary_fingerprint(list(corpus.words), corpus.counts)
    run_files.check_resume_data(workdir, fingerprint, "vocabulary")
    check_resume_parallel_blocks(workdir, config, mesh)
    world_files = corpus.world_files
    build_evaluators(config, world_files, None)  # fail now on a bad benchmark file
    stream = block_stream(corpus, config)
    blocks_per_epoch = [stream.blocks_in_epoch(e) for e in range(config.train.epochs)]
    total_blocks = sum(blocks_per_epoch)
    if total_blocks == 0:
        kept = int((corpus.counts * stream.keep_prob).sum())
        raise UserError(
            f"the corpus keeps about {kept} tokens per epoch after subsampling, fewer than one "
            f"block of train.batch_size={config.train.batch_size}; lower train.batch_size or "
            "use a larger corpus"
        )

    # One optimizer step per train.parallel_blocks blocks.
    parallel = config.train.parallel_blocks
    sgd_steps = -(-total_blocks // parallel)
    tx, lr_schedule = word2vec_step.make_optimizer(config, sgd_steps, optimizer, schedule)
    noise = windows.noise_distribution(corpus.counts)
    block_tokens = corpus.counts * stream.keep_prob  # the tokens blocks hold, after subsampling
    token_distribution = block_tokens / block_tokens.sum()
    config, bound_decision = decide_curvature_bound(config, noise, token_distribution)
    check_resume_curvature_bound(workdir, bound_decision)
    draw_hits = negative_draw_hits(config, noise)
    if draw_hits and draw_hits["weight"] != 1.0 and distributed.is_main_process():
        print(
            f"shared negatives count {draw_hits['weight']:g} hits a draw for the row-hit cap: a "
            f"step draws a typical drawn row {draw_hits['concentration']:.1f} times, above the "
            f"cap {config_lib.row_hit_cap(config)}",
            flush=True,
        )
    run_files.write_run_info(
        workdir,
        fingerprint,
        config_changes,
        corpus=corpus.meta,
        total_steps=total_blocks,
        blocks_per_epoch=blocks_per_epoch,
        parallel_blocks=config.train.parallel_blocks,  # as resolved for this machine's devices
        # XLA:CPU's op schedule of the step (None off CPU)
        cpu_scheduler=loop.cpu_schedule(config_lib.word2vec_cpu_scheduler(config)),
        **({"negative_draw_hits": draw_hits} if draw_hits else {}),
        **({"curvature_bound": bound_decision} if bound_decision else {}),
    )
    words_per_block = config.train.batch_size
    group = config.train.steps_per_dispatch * parallel

    tree = hierarchical_softmax.huffman_tree(corpus.counts) if config.model.output == "hs" else None

    def make_step(graphdef, shardings):
        step = word2vec_step.make_train_step(
            config,
            graphdef,
            tx,
            lr_schedule,
            noise,
            mesh=mesh,
            shardings=shardings,
            tree=tree,
        )
        return lambda state, blocks: step(state, *blocks)

    def batches(start: int):
        groups = block_groups(stream, blocks_per_epoch, start, group)
        for ids, docs, real in parallel_groups(groups, parallel, mesh):
            yield loop.Work((ids, docs), real, real * words_per_block)

    def summarise(fetched: list[dict], block: int) -> tuple[dict, float]:
        pairs = sum(float(m["pairs"]) for m in fetched)
        loss = sum(float(m["loss"]) * float(m["pairs"]) for m in fetched) / max(pairs, 1.0)
        metrics = {
            "loss": loss if pairs > 0 else math.nan,
            "learning_rate": float(fetched[-1]["learning_rate"]),
            "epoch": position_of(block, blocks_per_epoch)["epoch"],
        }
        for counter in ("skipped_steps", "consecutive_skipped"):
            if counter in fetched[-1]:
                metrics[counter] = int(fetched[-1][counter])
        return metrics, loss

    trainer = loop.Trainer(
        init=lambda: word2vec_step.init_state(config, corpus.vocab_size, tx),
        make_step=make_step,
        batches=lambda start: windows.prefetch(batches(start)),
        summarise=summarise,
        total=total_blocks,
        log_every=config.train.log_every,
        checkpoint_every=config.train.checkpoint_every,
        skip_nonfinite=config.train.skip_nonfinite,
        learning_rate=config.train.learning_rate,
        position=lambda block: position_of(block, blocks_per_epoch),
        start_of=lambda position: int(position["block"]),
        shardings_for=None
        if mesh is None
        else lambda abstract: word2vec_step.state_shardings(
            abstract, mesh, config.train.shard_tables
        ),
        units="words",
        progress=config.log.progress,
        progress_unit="word",
        units_per_count=words_per_block,
        profile_dir=workdir / "profile",
        profile_dispatches=config.log.profile_dispatches,
    )
    checkpointer = Checkpointer(workdir / "checkpoints")
    started = time.time()
    try:
        _, state, _ = loop.train(trainer, checkpointer, writer)
        train_seconds = time.time() - started
        vectors = WordVectors(
            list(corpus.words),
            np.asarray(distributed.to_local(state["params"]["input_embeddings"][...])),
            corpus.counts,
        )
    finally:
        checkpointer.close()
    return TrainedRun(vectors, corpus, world_files, total_blocks, train_seconds)


def decide_curvature_bound(
    config: Config, noise_distribution: np.ndarray, token_distribution: np.ndarray
) -> tuple[Config, dict[str, float]]:
    """word2vec_step.resolve_curvature_bound, said in one line where it turns the bound on."""
    cap = config_lib.row_hit_cap(config)
    config, record = word2vec_step.resolve_curvature_bound(
        config, noise_distribution, token_distribution
    )
    if record.get("curvature_bound", 0) > 0 and distributed.is_main_process():
        print(
            f"train.curvature_bound=-1: a step of {config.train.parallel_blocks} blocks holds a "
            f"typical token's row {record['token_concentration']:.1f} times and draws a typical "
            f"drawn row {record['draw_concentration']:.1f} times, both above the cap {cap}: "
            f"bounding each row's step by its curvature, with the cap at "
            f"{record['row_hit_cap']} and draws counted once (set train.curvature_bound=0 for "
            "the pair count)",
            flush=True,
        )
    return config, record


def check_resume_curvature_bound(workdir: Path, decision: dict[str, float]) -> None:
    """Refuse to resume where train.curvature_bound=-1 decides otherwise than when the run began
    (a resumable setting such as train.shard_tables turns the bound off): the rest of the run
    would train under another rule without saying so."""
    saved = run_files.saved_run_value(workdir, "curvature_bound")
    if not saved or not decision:
        return
    keys = ("curvature_bound", "row_hit_cap")
    if tuple(saved[k] for k in keys) != tuple(decision[k] for k in keys):
        raise UserError(
            f"{workdir} began with train.curvature_bound={saved['curvature_bound']:g} and "
            f"train.row_hit_cap={saved['row_hit_cap']} (decided from the corpus) and would "
            f"resume with {decision['curvature_bound']:g} and {decision['row_hit_cap']}: resume "
            "with the settings it began with (train.shard_tables, train.row_hit_cap), or "
            "use a new --workdir"
        )


def negative_draw_hits(config: Config, noise_distribution: np.ndarray) -> dict[str, float]:
    """What run.json records of how the row-hit cap counts a shared negative's draw
    (word2vec_step.negative_hit_weight, derived from P and the noise distribution); empty for
    hierarchical softmax, which draws no negatives."""
    if config.model.output == "hs":
        return {}
    return {
        "concentration": round(word2vec_step.draw_concentration(config, noise_distribution), 3),
        "weight": word2vec_step.negative_hit_weight(config, noise_distribution),
    }


def phrase_summary(meta: dict) -> str:
    """One line on what the phrase passes of a corpus found (its meta.json, also in run.json)."""
    found = "; ".join(
        f"pass {p['pass']}: {p['phrases']:,} phrases, {p['joins']:,} joins"
        for p in meta["phrase_passes"]
    )
    settings = meta["phrases"]
    return (
        f"phrases (min_count {settings['min_count']}, threshold {settings['threshold']:g}, "
        f"{settings['scoring']} scoring): {found}; {meta['phrases_in_vocab']:,} phrase tokens "
        "in the vocabulary"
    )


def _plot_pairs(config: Config, world_files: dict, vectors: WordVectors) -> list[tuple[str, str]]:
    from research.eval.plots import pairs_from_analogy_file  # matplotlib: only when reporting

    if world_files:
        manifest = json.loads(Path(world_files["manifest"]).read_text())
        pairs = [tuple(p) for p in manifest.get("plot_pairs", [])]
        if pairs:
            return pairs
    for entry in config.evals.values():  # the first analogy benchmark that yields pairs
        if entry.get("kind") == "analogy" and entry.get("path"):
            pairs = pairs_from_analogy_file(entry["path"], vectors)
            if pairs:
                return pairs
    return [p for p in CLASSIC_PAIRS if p[0] in vectors and p[1] in vectors]


def evaluate_and_report(config: Config, workdir: Path, run: TrainedRun) -> dict[str, float]:
    """Run the configured evaluators and write results.json, results.md, vectors and the plot."""
    from research.eval.plots import plot_analogy_pairs, plot_loss  # matplotlib: loaded here only

    vectors, world_files, corpus, steps = run.vectors, run.world_files, run.corpus, run.steps
    evaluators = build_evaluators(config, world_files, vectors)
    results, extra = run_evaluators(evaluators, vectors)
    vectors.save_word2vec_text(workdir / "vectors.txt")
    vectors.save_vocab_counts(workdir / "vocab.txt")  # SIF weighting reads them (research.embed)
    pairs = _plot_pairs(config, world_files, vectors)
    plot_analogy_pairs(vectors, pairs, workdir / "plots" / "analogy_pca.png")
    plot_loss(workdir)
    provenance = {
        "experiment": config.name,
        "model": f"{config.model.kind}, dim {config.model.dim}"
        + (", hierarchical softmax" if config.model.output == "hs" else ""),
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
    if corpus.meta.get("phrase_passes"):
        provenance["phrases"] = phrase_summary(corpus.meta)
    print(write_results(workdir, results, provenance, extra))
    return results
