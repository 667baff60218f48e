"""The encoder run's evaluation and report: the evaluators its config names (checked before
training), the embedder they read, the head's level readings (eval.head_levels), and
results.json / results.md with the run's provenance.
"""

from __future__ import annotations

from pathlib import Path

from research.config import EncoderRunConfig
from research.data.sequences import SequenceData
from research.errors import UserError
from research.eval import evaluators_from_config, run_evaluators
from research.eval.embedder import EncoderEmbedder, HeadLevelView
from research.eval.report import write_results
from research.eval.suites import encoder_suite, resolve_evals
from research.io.writers import git_commit
from research.models.encoder import SIZES
from research.objectives import registry as objectives


def validate_head_levels(config: EncoderRunConfig) -> None:
    """eval.head_levels names levels of the head this run trains (checked before training)."""
    wanted = list(config.eval.head_levels)
    if not wanted:
        return
    if "all" in wanted and wanted != ["all"]:
        raise UserError(f"eval.head_levels={wanted}: 'all' stands alone, e.g. [all]")
    if "levels" not in objectives.heads(config):
        raise UserError(
            f"eval.head_levels={wanted} needs the multi-abstraction head, which objective.kind="
            f"{config.objective.kind} does not train: set eval.head_levels=[]"
        )
    unknown = [x for x in wanted if x != "all" and x not in config.objective.levels]
    if unknown:
        raise UserError(
            f"eval.head_levels names {', '.join(unknown)}; the head's levels "
            f"(objective.levels) are {', '.join(config.objective.levels)}"
        )


def build_evaluators(config: EncoderRunConfig, data: SequenceData, plot_dir: Path | None = None):
    """The data source's default suite (unless eval.default_suite=false) and config.evals,
    built (their files checked) before training. Returns (evaluators, polysemy file or None)."""
    suite, polysemy_file = {}, None
    if config.eval.default_suite:
        suite, polysemy_file = encoder_suite(data.world_files, config.eval, plot_dir)
    evals = resolve_evals(suite, config.evals, family="encoder", data_dir=config.eval.data_dir)
    return evaluators_from_config(evals), polysemy_file


def make_embedder(config: EncoderRunConfig, model, data: SequenceData) -> EncoderEmbedder:
    return EncoderEmbedder(
        model,
        data.tokenizer,
        max_len=config.data.max_len,
        pooling=config.model.pooling,
        top_layers=config.eval.top_layers,
    )


def model_label(config: EncoderRunConfig) -> str:
    """The size's name, or the shape when model.dim/layers/heads/mlp_dim replace it (a BERT
    checkpoint of another shape); "post-norm" for BERT's LayerNorm placement."""
    model = config.model
    shape = {k: getattr(model, k) for k in ("dim", "layers", "heads", "mlp_dim")}
    named = SIZES[model.size]
    label = model.size
    if any(value and value != named[k] for k, value in shape.items()):
        label = "{layers}-layer {dim}-wide ({heads} heads, mlp {mlp_dim})".format(
            **{k: value or named[k] for k, value in shape.items()}
        )
    return label + (" post-norm" if model.norm == "post" else "")


def evaluate_and_report(
    config: EncoderRunConfig,
    workdir: Path,
    embedder: EncoderEmbedder,
    evaluators: list,
    polysemy_file: Path | None,
    data: SequenceData,
    params_count: int,
    selected: str | None = None,
) -> dict[str, float]:
    from research.eval.plots import plot_loss  # matplotlib: loaded here only

    results, extra = run_evaluators(evaluators, embedder)
    head_levels = list(config.eval.head_levels)
    for level in embedder.levels if head_levels == ["all"] else head_levels:
        view = HeadLevelView(embedder, level)
        readable = [e for e in evaluators if getattr(e, "reads", None) in view.reads]
        more, markdown = run_evaluators(readable, view, suffix=f"@head_{level}")
        results.update(more)
        if markdown:
            extra += f"\n## The head's {level} level (eval.head_levels)\n\n{markdown}"
    if polysemy_file is not None:
        from research.eval.polysemy import plot_polysemy

        plot_polysemy(
            embedder,
            polysemy_file,
            config.eval.polysemy_lemma or None,
            workdir / "plots" / "polysemy.png",
        )
    plot_loss(workdir)
    weights = {name: weight for name, (_, weight) in objectives.configured(config).items()}
    provenance = {
        "experiment": config.name,
        "objective": f"{config.objective.kind} (weights {weights})",
        "model": f"{model_label(config)} encoder, {params_count:,} parameters, "
        f"{config.model.positions} positions, {config.model.dtype}",
        "data": data.meta.get("source_description"),
        "tokens / sequences / sentences": (
            f"{data.meta['tokens']} / {data.meta['sequences']} / {data.meta['sentences']}"
        ),
        "steps / batch": f"{config.train.steps} / {config.train.batch_size} sequences, "
        f"{config.train.sentence_batch_size} sentence pairs",
        "seed": config.train.seed,
        **({"started from": config.train.init_from} if config.train.init_from else {}),
        **({"selected weights": selected} if selected else {}),
        "embedding": f"{config.model.pooling} pooling of the last layer; tokens: mean of top "
        f"{config.eval.top_layers} layer(s); {embedder.report()}",
        "git commit": git_commit(),
    }
    print(write_results(workdir, results, provenance, extra))
    return results
