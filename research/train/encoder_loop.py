"""`train_and_evaluate` for the transformer encoder: mlm, next_token, contrastive,
multi_abstraction and their sums.

Same run contract as word2vec (train/loop.py): config.json, run.json, metrics.jsonl, Orbax
checkpoints with resume, Ctrl-C saves, NaN guard at log time, results.json/results.md and plots.
Batches are drawn by step: batch t comes from default_rng([seed, t]), so the data position of a
checkpoint is its step and a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from research import config as config_lib
from research import distributed
from research.config import EncoderRunConfig, objective_weights
from research.data import npy, windows
from research.data import tokenizer as tok
from research.data.corpus import resolve_data_source
from research.data.sequences import SequenceData, prepare_sequences
from research.embed import EncoderEmbedder
from research.errors import UserError
from research.eval import make_evaluator, run_evaluators
from research.eval.report import write_results
from research.io.checkpoint import Checkpointer
from research.io.writers import create_writers, git_commit
from research.models.encoder import SIZES, count_params
from research.objectives import multilevel
from research.train import encoder_step
from research.train.driver import init_or_restore, run_steps
from research.train.loop import (
    check_resume_config,
    check_resume_data,
    plot_loss,
)
from research.train.nonfinite import guard_nonfinite


def validate(config: EncoderRunConfig) -> None:
    objective_weights(config.objective)
    checks = [
        (config.train.steps >= 1, "train.steps must be at least 1"),
        (config.train.batch_size >= 1, "train.batch_size must be at least 1"),
        (
            config.train.sentence_batch_size >= 2,
            "train.sentence_batch_size must be at least 2 (in-batch negatives)",
        ),
        (config.train.learning_rate > 0, "train.learning_rate must be positive"),
        (config.data.max_len >= 8, "data.max_len must be at least 8"),
        (config.data.sentence_len >= 4, "data.sentence_len must be at least 4"),
        (0 < config.objective.mask_rate < 1, "objective.mask_rate must be in (0, 1)"),
        (config.objective.temperature > 0, "objective.temperature must be positive"),
        (0 <= config.model.dropout < 1, "model.dropout must be in [0, 1)"),
        (config.eval.top_layers >= 1, "eval.top_layers must be at least 1"),
        (config.train.devices >= 0, "train.devices must be >= 0 (0 = all devices)"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if "multi_abstraction" in objective_weights(config.objective):
        multilevel.validate(config.objective, SIZES[config.model.size]["dim"])
    if (
        config.objective.positives == "dropout"
        and config.model.dropout == 0
        and "contrastive" in objective_weights(config.objective)
    ):
        raise UserError(
            "objective.positives=dropout needs model.dropout > 0 (SimCSE's two views "
            "differ only by dropout)"
        )


def check_mesh(config: EncoderRunConfig, mesh: Mesh | None) -> None:
    """Every batch the objectives draw must split evenly over the data mesh's devices."""
    devices = distributed.mesh_size(mesh)
    terms = set(objective_weights(config.objective))
    sizes = []
    if terms & {"mlm", "next_token", "multi_abstraction"}:
        sizes.append(("train.batch_size", config.train.batch_size))
    if terms & {"contrastive", "multi_abstraction"}:
        sizes.append(("train.sentence_batch_size", config.train.sentence_batch_size))
    for key, size in sizes:
        if size % devices:
            raise UserError(
                f"{key}={size} must be a multiple of the {devices} devices of the data mesh: "
                f"set {key}={devices * -(-size // devices)}, or train.devices=1 for one device"
            )


# Batch entries that hold token ids (counted for tokens_per_sec).
TOKEN_KEYS = ("tokens", "anchors", "positives", "context_anchors", "context_positives")


@dataclasses.dataclass
class SentenceContexts:
    """Per-sentence context ids for the multi-abstraction context term.

    ids (S,) int32: index into `names` of the topic of each sentence's document, -1 when that
    topic is not a context; pools[c]: the sentences whose context is c.
    """

    names: tuple[str, ...]
    ids: np.ndarray
    pools: list[np.ndarray]


def resolve_contexts(config: EncoderRunConfig) -> EncoderRunConfig:
    """The config with objective.contexts filled in: "" means the synthetic world's topics.

    Resolved before config.json is written, so a run records (and load_encoder rebuilds) the
    exact context table it trained.
    """
    objective = config.objective
    if "multi_abstraction" not in objective_weights(objective) or objective.contexts.strip():
        return config
    if config.data.source != "synthetic":
        return config
    _, world_files = resolve_data_source(config.data)
    topics = json.loads(Path(world_files["manifest"]).read_text()).get("topics", [])
    return dataclasses.replace(
        config, objective=dataclasses.replace(objective, contexts=",".join(topics))
    )


def document_topics(data: SequenceData) -> list[str] | None:
    """The topic of each document of `data` (in sentence_documents' numbering), read from the
    synthetic world's documents.jsonl; None when the source has no topics."""
    if not data.world_files:
        return None
    path = Path(data.world_files["corpus"]).with_name("documents.jsonl")
    if not path.exists():
        return None
    topics = []
    with path.open() as lines:
        for line in lines:
            record = json.loads(line)
            sentences = record.get("sentences") or []
            # The same filter as sequences.iter_document_sentences: empty documents are skipped.
            if any(isinstance(x, str) and x.strip() for x in sentences):
                topics.append(record.get("topic"))
    if len(topics) != data.meta.get("documents"):
        raise UserError(
            f"{path} has {len(topics)} documents but the token cache has "
            f"{data.meta.get('documents')}; delete {data.path} to rebuild it"
        )
    return topics


def sentence_contexts(data: SequenceData, config: EncoderRunConfig) -> SentenceContexts | None:
    """Per-sentence contexts for the context term, or None when the term is off."""
    objective = config.objective
    names = multilevel.parse_contexts(objective)
    terms = objective_weights(objective)
    if "multi_abstraction" not in terms or not names or objective.context_weight == 0:
        return None
    topics = document_topics(data)
    if topics is None:
        raise UserError(
            f"objective.contexts={objective.contexts!r} needs a topic per document, which only "
            "the synthetic world provides (documents.jsonl); set objective.context_weight=0"
        )
    missing = sorted(set(names) - set(topics))
    if missing:
        raise UserError(
            f"objective.contexts names {', '.join(missing)}, not a document topic of the data "
            f"(topics: {', '.join(sorted({t for t in topics if t}))})"
        )
    index = {name: i for i, name in enumerate(names)}
    per_document = np.array([index.get(t, -1) for t in topics], np.int32)
    ids = per_document[np.asarray(data.sentence_documents)]
    return SentenceContexts(names, ids, [np.flatnonzero(ids == c) for c in range(len(names))])


def context_batch(
    rng: np.random.Generator, data: SequenceData, contexts: SentenceContexts, size: int
) -> dict[str, np.ndarray]:
    """Anchors, positives and contexts for objectives/multilevel.context_info_nce.

    Each anchor is a sentence whose document's topic t is a context; it is read in context t and
    its positive is another sentence of a topic-t document: its neighbour in its own document
    (the next sentence, else the previous one, else a random sentence of topic t).

    Why the neighbour: topics label documents, not sentences, and in the synthetic world about
    three quarters of a document's sentences are topic-free background. Two random sentences of
    topic-t documents then share nothing but the label in most pairs, while a neighbour shares
    the paragraph: a topical anchor's neighbour is usually topical too. (Measured on the bank
    demonstration, tests/test_multilevel.py: with random same-topic positives the on-context
    pairs stayed at chance accuracy after 200 steps; with neighbours they reached ~0.8.)
    """
    known = np.flatnonzero(contexts.ids >= 0)
    rows = np.sort(rng.choice(known, size, replace=len(known) < size))
    topics = contexts.ids[rows]
    positives = rows.copy()
    docs = data.sentence_documents
    for i, r in enumerate(rows):
        if r + 1 < len(docs) and docs[r + 1] == docs[r]:
            positives[i] = r + 1
        elif r > 0 and docs[r - 1] == docs[r]:
            positives[i] = r - 1
        elif len(contexts.pools[topics[i]]) > 1:  # a one-sentence document: another of topic t
            pool = contexts.pools[topics[i]]
            k = rng.integers(len(pool) - 1)
            positives[i] = pool[k + (k >= np.searchsorted(pool, r))]
    return {
        "context_anchors": npy.take_rows(data.sentence_tokens, rows),
        "context_positives": npy.take_rows(data.sentence_tokens, positives),
        "context_ids": topics.astype(np.int32),
        "context_positive_topics": contexts.ids[positives].astype(np.int32),
    }


def batch_for_step(
    data: SequenceData,
    config: EncoderRunConfig,
    step: int,
    anchors: np.ndarray,
    contexts: SentenceContexts | None = None,
) -> dict[str, np.ndarray]:
    """The host batch of step `step`: a pure function of (data, seed, step).

    multi_abstraction shares mlm's rows (equal data) and adds their per-token sentence and
    document ids, and with `contexts` the context term's sentences (drawn last, so adding the
    objective leaves the other objectives' batches unchanged).
    """
    rng = np.random.default_rng([config.train.seed, step])
    terms = objective_weights(config.objective)
    batch = {}
    if {"mlm", "next_token", "multi_abstraction"} & set(terms):
        n = len(data.packed_tokens)
        rows = np.sort(rng.choice(n, config.train.batch_size, replace=n < config.train.batch_size))
        batch["tokens"] = npy.take_rows(data.packed_tokens, rows)
    if "multi_abstraction" in terms:
        batch["sentence_ids"] = npy.take_rows(data.packed_sentences, rows)
        batch["document_ids"] = npy.take_rows(data.packed_documents, rows)
    if "contrastive" in terms:
        pool = (
            anchors
            if config.objective.positives == "neighbour"
            else np.arange(len(data.sentence_tokens))
        )
        size = config.train.sentence_batch_size
        rows = np.sort(rng.choice(pool, size, replace=len(pool) < size))
        batch["anchors"] = npy.take_rows(data.sentence_tokens, rows)
        if config.objective.positives == "neighbour":
            batch["positives"] = npy.take_rows(data.sentence_tokens, rows + 1)
    if "multi_abstraction" in terms and contexts is not None:
        batch.update(context_batch(rng, data, contexts, config.train.sentence_batch_size))
    return batch


def train_and_evaluate(config: EncoderRunConfig, workdir: str | Path) -> dict[str, float]:
    validate(config)
    mesh = distributed.data_mesh(config.train.devices)
    check_mesh(config, mesh)
    config = distributed.main_process_first("contexts", lambda: resolve_contexts(config))
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config_changes = check_resume_config(workdir, config)
    main = distributed.is_main_process()  # process 0 writes the run's files and prints
    if main:
        (workdir / "config.json").write_text(config_lib.to_json(config) + "\n")
    data = distributed.main_process_first(
        "token data",
        lambda: prepare_sequences(
            config.data,
            max_len=config.data.max_len,
            sentence_len=config.data.sentence_len,
            vocab_size=config.data.vocab_size,
            progress=config.log.progress and main,
        ),
    )
    data_fingerprint = hashlib.sha256(
        (data.path / "tokenizer.json").read_bytes() + json.dumps(data.meta["tokens"]).encode()
    ).hexdigest()[:16]
    check_resume_data(workdir, data_fingerprint, "tokeniser or token data")
    if main:
        shutil.copy(data.path / "tokenizer.json", workdir / "tokenizer.json")
    anchors = data.neighbour_anchors()
    if (
        config.objective.positives == "neighbour"
        and "contrastive" in objective_weights(config.objective)
        and len(anchors) < 2
    ):
        raise UserError(
            "the corpus has no documents with two or more sentences, so there are no "
            "neighbouring-sentence positives; use objective.positives=dropout"
        )
    contexts = sentence_contexts(data, config)
    evaluators, polysemy_file = build_evaluators(config, data, workdir / "plots")

    tx, schedule = encoder_step.make_optimizer(config)
    checkpointer = Checkpointer(workdir / "checkpoints")
    graphdef, state, shardings, position = init_or_restore(
        lambda: encoder_step.init_state(config, data.vocab_size, tx),
        checkpointer,
        None
        if mesh is None
        else lambda abstract: jax.tree.map(lambda _: distributed.replicated(mesh), abstract),
    )
    params_count = count_params(nnx.merge(graphdef, state["params"]))
    start = 0
    if position is not None:
        start = int(position["step"])
        if main:
            print(f"resuming from step {start} of {config.train.steps}", file=sys.stderr)
    run_info = {
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "data": data.meta,
        "vocab_size": data.vocab_size,
        "parameters": params_count,
        "data_fingerprint": data_fingerprint,
    }
    if config_changes:
        run_info["resumed_with_config_changes"] = config_changes
    if main:
        (workdir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
        print(
            f"encoder {config.model.size}: {params_count:,} parameters, vocabulary "
            f"{data.vocab_size}, {len(data.packed_tokens)} sequences of {config.data.max_len}",
            file=sys.stderr,
        )
    writer = create_writers(workdir, config)
    try:
        state = _train(
            config,
            graphdef,
            state,
            tx,
            schedule,
            data,
            anchors,
            start,
            checkpointer,
            writer,
            contexts=contexts,
            mesh=mesh,
            shardings=shardings,
        )
        if not main:
            return {}  # process 0 evaluates and writes the results
        params = state["params"] if mesh is None else distributed.to_local(state["params"])
        model = nnx.merge(graphdef, params)
        embedder = EncoderEmbedder(
            model,
            data.tokenizer,
            max_len=config.data.max_len,
            pooling=config.model.pooling,
            top_layers=config.eval.top_layers,
        )
        results = evaluate_and_report(
            config, workdir, embedder, evaluators, polysemy_file, data, params_count
        )
        writer.summary(results)
    finally:
        writer.close()
        checkpointer.close()
    return results


def _train(
    config,
    graphdef,
    state,
    tx,
    schedule,
    data,
    anchors,
    start,
    checkpointer,
    writer,
    *,
    contexts: SentenceContexts | None = None,
    mesh: Mesh | None = None,
    shardings: dict | None = None,
):
    steps = config.train.steps
    if start >= steps:
        return state
    train_step = encoder_step.make_train_step(
        config, graphdef, tx, schedule, mesh=mesh, shardings=shardings
    )
    batches = windows.prefetch(
        batch_for_step(data, config, s, anchors, contexts) for s in range(start, steps)
    )
    progress = None
    if config.log.progress and distributed.is_main_process():
        from tqdm import tqdm

        progress = tqdm(
            total=steps, initial=start, unit="step", desc="training", dynamic_ncols=True
        )
    pending: list[dict] = []
    step = start
    last_time, last_step = time.time(), start
    tokens_per_step = 0

    def flush():
        nonlocal last_time, last_step
        if not pending:
            return
        fetched = jax.device_get(pending)
        good = fetched
        if config.train.skip_nonfinite > 0:  # skipped steps made no update: leave them out
            good = [m for m in fetched if math.isfinite(float(m["loss"]))]
        metrics = {
            k: float(np.mean([m[k] for m in good])) if good else math.nan for k in fetched[0]
        }
        metrics["learning_rate"] = float(fetched[-1]["learning_rate"])
        for counter in ("skipped_steps", "consecutive_skipped"):
            if counter in fetched[-1]:
                metrics[counter] = int(fetched[-1][counter])
        guard_nonfinite(
            metrics["loss"],
            metrics,
            config.train.skip_nonfinite,
            last_step,
            step,
            config.train.learning_rate,
        )
        now = time.time()
        metrics["steps_per_sec"] = (step - last_step) / max(now - last_time, 1e-9)
        metrics["tokens_per_sec"] = metrics["steps_per_sec"] * tokens_per_step
        writer.write(step, metrics)
        if progress is not None:
            progress.set_postfix(loss=f"{metrics['loss']:.4f}")
        pending.clear()
        last_time, last_step = now, step

    def save():
        flush()
        checkpointer.save(step, state, {"step": step})

    def advance(batch: dict) -> tuple[int, int]:
        nonlocal state, step, tokens_per_step
        tokens_per_step = sum(int((batch[k] != tok.PAD).sum()) for k in TOKEN_KEYS if k in batch)
        state, metrics = train_step(state, batch)
        step += 1
        pending.append(metrics)
        return step - 1, step

    run_steps(
        batches,
        advance,
        total=steps,
        log_every=config.train.log_every,
        checkpoint_every=config.train.checkpoint_every,
        flush=flush,
        save=save,
        progress=progress,
    )
    return state


def build_evaluators(config: EncoderRunConfig, data: SequenceData, plot_dir: Path | None = None):
    """Evaluators from the config and the synthetic world, built (and their files checked)
    before training. `plot_dir` receives the level × probe heatmap."""
    evaluators = []
    world = data.world_files
    corpus_dir = Path(world["corpus"]).parent if world else None
    polysemy_file = None
    if corpus_dir is not None and config.eval.synthetic:
        for kind, name, file in [
            ("word_sense", "synthetic_sense", "wic.tsv"),
            ("sentence_similarity", "synthetic_sts", "sts-test.csv"),
            ("retrieval", "synthetic_retrieval", "retrieval.tsv"),
        ]:
            if (corpus_dir / file).exists():
                evaluators.append(make_evaluator(kind, name=name, path=corpus_dir / file))
        if (corpus_dir / "polysemy.tsv").exists():
            polysemy_file = corpus_dir / "polysemy.tsv"
            evaluators.append(
                make_evaluator("sense_separation", name="synthetic_polysemy", path=polysemy_file)
            )
        ladder = corpus_dir / "hierarchy.tsv"
        documents = corpus_dir / "documents.jsonl"
        if ladder.exists() and documents.exists():
            plot = str(plot_dir / "level_probe_matrix.png") if plot_dir is not None else ""
            evaluators.append(
                make_evaluator(
                    "level_probes",
                    name="level_probes",
                    ladder=str(ladder),
                    documents=str(documents),
                    plot=plot,
                    folds=config.eval.probe_folds,
                )
            )
    if config.eval.wic:
        evaluators.append(
            make_evaluator("word_sense", name=_stem(config.eval.wic), path=config.eval.wic)
        )
    if config.eval.sts:
        evaluators.append(
            make_evaluator("sentence_similarity", name=_stem(config.eval.sts), path=config.eval.sts)
        )
    if config.eval.retrieval:
        evaluators.append(
            make_evaluator(
                "retrieval",
                name=_stem(config.eval.retrieval),
                path=config.eval.retrieval,
                query_column=config.eval.retrieval_query_column,
                target_column=config.eval.retrieval_target_column,
            )
        )
    return evaluators, polysemy_file


def _stem(path: str) -> str:
    return (
        Path(path.split(":")[-1] if path.startswith("hf:") else path)
        .stem.replace("-", "_")
        .replace("/", "_")
        .lower()
    )


def evaluate_and_report(
    config,
    workdir: Path,
    embedder: EncoderEmbedder,
    evaluators,
    polysemy_file,
    data: SequenceData,
    params_count: int,
) -> dict[str, float]:
    results, extra = run_evaluators(evaluators, embedder)
    if polysemy_file is not None:
        from research.eval.polysemy import plot_polysemy

        plot_polysemy(
            embedder,
            polysemy_file,
            config.eval.polysemy_lemma or None,
            workdir / "plots" / "polysemy.png",
        )
    plot_loss(workdir)
    provenance = {
        "experiment": config.name,
        "objective": f"{config.objective.kind} (weights {objective_weights(config.objective)})",
        "model": f"{config.model.size} encoder, {params_count:,} parameters, "
        f"{config.model.positions} positions, {config.model.dtype}",
        "data": data.meta.get("source_description"),
        "tokens / sequences / sentences": (
            f"{data.meta['tokens']} / {data.meta['sequences']} / {data.meta['sentences']}"
        ),
        "steps / batch": f"{config.train.steps} / {config.train.batch_size} sequences, "
        f"{config.train.sentence_batch_size} sentence pairs",
        "seed": config.train.seed,
        "embedding": f"{config.model.pooling} pooling of the last layer; tokens: mean of top "
        f"{config.eval.top_layers} layer(s); {embedder.report()}",
        "git commit": git_commit(),
    }
    print(write_results(workdir, results, provenance, extra))
    return results
