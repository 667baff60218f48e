"""The transformer encoder family: `train_and_evaluate` for any registered objective or sum
(mlm, next_token, contrastive, multi_abstraction, ...).

What is particular to the encoder lives here: its data (packed sequences and a sentence table,
research/data/sequences.py) and its batches (research/data/text_batches.py). Its evaluators and
report are in train/encoder_report.py, the state and jitted step in train/encoder_step.py, the
step loop in train/loop.py and the run contract (config.json, run.json, resume checks) in
train/workdir.py.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh

from research import config as config_lib
from research import distributed
from research.checkpoints import hf
from research.config import EncoderRunConfig
from research.data import tokenizer as tok
from research.data import windows
from research.data.corpus import cache_root
from research.data.sequences import SequenceData, prepare_sequences
from research.data.text_batches import (
    SentenceContexts,
    batch_for_step,
    sentence_contexts,
    world_topics,
)
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.io.writers import create_writers
from research.models.encoder import count_params
from research.objectives import multilevel
from research.objectives import registry as objectives
from research.objectives.registry import PACKED_FIELDS, PAIR_FIELDS
from research.train import encoder_step, loop, run_weights, selection
from research.train import workdir as run_files
from research.train.encoder_report import (
    build_evaluators,
    evaluate_and_report,
    make_embedder,
    model_label,
    validate_head_levels,
)

# Batch entries that hold token ids (counted for tokens_per_sec).
TOKEN_KEYS = ("tokens", "anchors", "positives", "context_anchors", "context_positives")


def validate(config: EncoderRunConfig) -> None:
    objectives.configured(config)
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
    objectives.encoder_config(config, vocab_size=1)  # shape and lengths, before any data work
    objectives.validate(config)
    validate_head_levels(config)


def check_mesh(config: EncoderRunConfig, mesh: Mesh | None) -> None:
    """Every batch the objectives draw must split evenly over the data mesh's devices."""
    devices = distributed.mesh_size(mesh)
    fields = objectives.batch_fields(config)
    sizes = []
    if fields & set(PACKED_FIELDS):
        sizes.append(("train.batch_size", config.train.batch_size))
    if fields & (set(PAIR_FIELDS) | {"context_ids"}):
        sizes.append(("train.sentence_batch_size", config.train.sentence_batch_size))
    for key, size in sizes:
        if size % devices:
            raise UserError(
                f"{key}={size} must be a multiple of the {devices} devices of the data mesh: "
                f"set {key}={devices * -(-size // devices)}, or train.devices=1 for one device"
            )


def uses_contexts(config: EncoderRunConfig) -> bool:
    return "levels" in objectives.heads(config)


def resolve_contexts(config: EncoderRunConfig) -> EncoderRunConfig:
    """The config with objective.contexts filled in: [] means the synthetic world's topics.

    Resolved before config.json is written, so a run records (and load_encoder rebuilds) the
    exact context table it trained.
    """
    objective = config.objective
    if not uses_contexts(config) or objective.contexts or objective.context_weight == 0:
        return config
    if config.data.source != "synthetic":
        raise UserError(
            f"objective.contexts defaults to the synthetic world's document topics, and "
            f"data.source={config.data.source} has none: set objective.context_weight=0 (no "
            "context spaces; the levels still train)"
        )
    from research.data.corpus import resolve_data_source

    topics = world_topics(resolve_data_source(config.data)[1])
    return dataclasses.replace(config, objective=dataclasses.replace(objective, contexts=topics))


def contexts_for(data: SequenceData, config: EncoderRunConfig) -> SentenceContexts | None:
    """Per-sentence contexts for the context term, or None when the term is off."""
    names = multilevel.contexts(config.objective)
    if not uses_contexts(config) or not names or config.objective.context_weight == 0:
        return None
    return sentence_contexts(data, names)


def prepare_data(config: EncoderRunConfig, main: bool) -> SequenceData:
    return distributed.main_process_first(
        "token data",
        lambda: prepare_sequences(
            config.data,
            max_len=config.data.max_len,
            sentence_len=config.data.sentence_len,
            vocab_size=config.data.vocab_size,
            progress=config.log.progress and main,
        ),
    )


def neighbour_anchors(config: EncoderRunConfig, data: SequenceData) -> np.ndarray:
    anchors = data.neighbour_anchors()
    if (
        config.objective.positives == "neighbour"
        and "anchors" in objectives.batch_fields(config)
        and len(anchors) < 2
    ):
        raise UserError(
            "the corpus has no documents with two or more sentences, so there are no "
            "neighbouring-sentence positives; use objective.positives=dropout"
        )
    return anchors


def tokens_per_step(config: EncoderRunConfig, data: SequenceData, samples: int = 16) -> float:
    """The mean number of data tokens (non-padding ids in every field the objectives read) one
    step of this config reads, over its first `samples` batches: the unit of a token budget, so
    objectives that read different fields can be given equal data."""
    anchors = neighbour_anchors(config, data)
    contexts = contexts_for(data, config)
    fields = objectives.batch_fields(config)
    counts = []
    for step in range(samples):
        batch = batch_for_step(data, config, step, anchors, fields, contexts)
        counts.append(sum(int((batch[k] != tok.PAD).sum()) for k in TOKEN_KEYS if k in batch))
    return float(np.mean(counts))


# flops_per_step's answers in this process. The count depends only on the config and the
# shapes of the state and batch, and lowering a whole train step to count it costs as much as
# tracing one, so a comparison called again (a resume in the same process) reuses them.
_FLOPS: dict[tuple, float] = {}


def flops_per_step(config: EncoderRunConfig, data: SequenceData) -> float:
    """XLA's count of the floating-point operations of one training step of this config on its
    first batch (HLO cost analysis of forward, backward and optimizer update, before
    optimisation): what a step costs, so that objectives can be compared at equal compute.
    0 where the backend gives no estimate."""
    batch = batch_for_step(
        data,
        config,
        0,
        neighbour_anchors(config, data),
        objectives.batch_fields(config),
        contexts_for(data, config),
    )
    key = (
        config_lib.to_json(config),
        data.vocab_size,
        tuple(sorted((k, np.shape(v), str(np.asarray(v).dtype)) for k, v in batch.items())),
    )
    if key in _FLOPS:
        return _FLOPS[key]
    tx, lr_schedule = encoder_step.make_optimizer(config)
    graphdef, abstract = jax.eval_shape(
        lambda: encoder_step.init_state(config, data.vocab_size, tx)
    )
    step = encoder_step.make_train_step(config, graphdef, tx, lr_schedule)
    cost = step.lower(abstract, batch).cost_analysis()
    if isinstance(cost, list):  # older JAX: one dict per device program
        cost = cost[0] if cost else {}
    _FLOPS[key] = float((cost or {}).get("flops", 0.0))
    return _FLOPS[key]


def train_and_evaluate(
    config: EncoderRunConfig,
    workdir: str | Path,
    *,
    optimizer: Callable | None = None,
    schedule: Callable | None = None,
) -> dict[str, float]:
    """Train the encoder as configured (or resume), evaluate it, write every artefact.

    optimizer(config, schedule) -> optax.GradientTransformation and schedule(config) -> an
    optax schedule replace the defaults (AdamW with warmup-cosine); experiment files define them.
    """
    config, checkpoint_run = from_checkpoint(config)
    validate(config)
    mesh = distributed.data_mesh(config.train.devices)
    check_mesh(config, mesh)
    config = distributed.main_process_first("contexts", lambda: resolve_contexts(config))
    main = distributed.is_main_process()  # process 0 writes the run's files and prints
    workdir, config_changes = run_files.open_run(workdir, config)
    data = prepare_data(config, main)
    fingerprint = run_files.tokenizer_fingerprint(
        (data.path / "tokenizer.json").read_bytes(), data.meta["tokens"]
    )
    run_files.check_resume_data(workdir, fingerprint, "tokeniser or token data")
    if main:
        shutil.copy(data.path / "tokenizer.json", workdir / "tokenizer.json")
        for extra in tok.TOKENIZER_COMPANIONS:
            if (data.path / extra).is_file():
                shutil.copy(data.path / extra, workdir / extra)
    anchors = neighbour_anchors(config, data)
    contexts = contexts_for(data, config)
    evaluators, polysemy_file = build_evaluators(config, data, workdir / "plots")

    tx, lr_schedule = encoder_step.make_optimizer(config, optimizer, schedule)
    checkpointer = Checkpointer(workdir / "checkpoints")
    fresh = lambda: encoder_step.init_state(config, data.vocab_size, tx)  # noqa: E731
    graphdef, abstract = jax.eval_shape(fresh)
    params_count = count_params(nnx.merge(graphdef, abstract["params"]))
    init, parent = start_from_parent(
        config, workdir, data, tx, abstract, checkpointer, checkpoint_run
    )
    run_files.write_run_info(
        workdir,
        fingerprint,
        config_changes,
        data=data.meta,
        vocab_size=data.vocab_size,
        parameters=params_count,
        **({"init_from": parent} if parent else {}),
    )
    if main:
        print(
            f"encoder {model_label(config)}: {params_count:,} parameters, vocabulary "
            f"{data.vocab_size}, {len(data.packed_tokens)} sequences of {config.data.max_len}",
            file=sys.stderr,
        )
    fields = objectives.batch_fields(config)

    def batches(start: int) -> Iterator[loop.Work]:
        for step in range(start, config.train.steps):
            batch = batch_for_step(data, config, step, anchors, fields, contexts)
            tokens = sum(int((batch[k] != tok.PAD).sum()) for k in TOKEN_KEYS if k in batch)
            yield loop.Work(batch, 1, tokens)

    trainer = loop.Trainer(
        init=init,
        make_step=lambda graphdef, shardings: encoder_step.make_train_step(
            config, graphdef, tx, lr_schedule, mesh=mesh, shardings=shardings
        ),
        batches=lambda start: windows.prefetch(batches(start)),
        summarise=lambda fetched, _: loop.mean_metrics(fetched, config.train.skip_nonfinite),
        total=config.train.steps,
        log_every=config.train.log_every,
        checkpoint_every=config.train.checkpoint_every,
        skip_nonfinite=config.train.skip_nonfinite,
        learning_rate=config.train.learning_rate,
        shardings_for=None
        if mesh is None
        else lambda abstract: jax.tree.map(lambda _: distributed.replicated(mesh), abstract),
        units="tokens",
        progress=config.log.progress,
        profile_dir=workdir / "profile",
        profile_dispatches=config.log.profile_dispatches,
    )
    writer = create_writers(workdir, config)
    best = None
    try:
        selected = selection.parse_select(config.eval.select, config.eval.every, evaluators)
        if selected is not None:
            zeros = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), abstract["params"])
            model = nnx.merge(graphdef, zeros)
            best = selection.BestParams(
                workdir, *selected, make_embedder(config, model, data), writer
            )
            local = (lambda x: x) if mesh is None else distributed.to_local
            trainer.evaluate = lambda step, state: best(step, local(state["params"]))
            trainer.evaluate_every = config.eval.every
        graphdef, state, _ = loop.train(trainer, checkpointer, writer)
        if not main:
            return {}  # process 0 evaluates and writes the results
        params = state["params"] if mesh is None else distributed.to_local(state["params"])
        if best is not None and best.best is not None:
            params = best.restore(abstract["params"])
        embedder = make_embedder(config, nnx.merge(graphdef, params), data)
        results = evaluate_and_report(
            config,
            workdir,
            embedder,
            evaluators,
            polysemy_file,
            data,
            params_count,
            selected=None if best is None else best.describe(),
        )
        writer.summary(results)
    finally:
        writer.close()
        checkpointer.close()
        if best is not None:
            best.close()
    return results


def from_checkpoint(config: EncoderRunConfig) -> tuple[EncoderRunConfig, Path | None]:
    """With train.init_from a Hugging Face BERT checkpoint (a directory or hf:NAME): the config
    with the checkpoint's model shape and tokeniser, and the strata run it was imported into
    (once per checkpoint, in the data cache: research/checkpoints/hf.py). Else unchanged, None."""
    source = config.train.init_from
    if not source or not hf.is_checkpoint(source):
        return config, None
    run_dir = distributed.main_process_first(
        "checkpoint import", lambda: hf.cached_run(source, cache_root(config.data))
    )
    config, changes = hf.apply_checkpoint_settings(config, run_dir)
    if distributed.is_main_process():
        print(
            f"train.init_from={source}: imported into {run_dir}; settings from the checkpoint: "
            + ("; ".join(changes) or "none changed"),
            file=sys.stderr,
        )
    return config, run_dir


def start_from_parent(
    config: EncoderRunConfig,
    workdir: Path,
    data: SequenceData,
    tx,
    abstract: dict,
    checkpointer: Checkpointer,
    checkpoint_run: Path | None = None,
) -> tuple[Callable, dict | None]:
    """(init, the parent record for run.json): with train.init_from, a fresh state whose
    parameters come from the parent run where it has them (research/train/run_weights.py);
    `checkpoint_run` is the run a Hugging Face checkpoint was imported into (from_checkpoint).
    A run that already has a checkpoint resumes from it and reads no parent; run.json keeps
    the record its first invocation wrote."""

    def fresh():
        return encoder_step.init_state(config, data.vocab_size, tx)

    if not config.train.init_from:
        return fresh, None
    if checkpointer.latest_step() is not None:
        run_path = workdir / "run.json"
        saved = json.loads(run_path.read_text()) if run_path.exists() else {}
        return fresh, saved.get("init_from")
    parent = run_weights.load_run_weights(
        checkpoint_run or Path(config.train.init_from).expanduser()
    )
    tokenizer_json = (data.path / "tokenizer.json").read_bytes()
    modules = run_weights.check_compatible(parent, tokenizer_json, abstract["params"])
    record = run_weights.parent_record(parent, modules)
    if checkpoint_run is not None:
        record["checkpoint"] = config.train.init_from
    if distributed.is_main_process():
        print(
            f"starting from {parent.run_dir} (step {parent.step}, {parent.which} weights): "
            f"loaded {', '.join(modules['loaded'])}"
            + (f"; fresh {', '.join(modules['fresh'])}" if modules["fresh"] else ""),
            file=sys.stderr,
        )

    def init():
        return encoder_step.init_state(
            config,
            data.vocab_size,
            tx,
            start_from=lambda params: run_weights.warm_start(params, parent.params),
        )

    return init, record
