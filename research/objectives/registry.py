"""The objective registry: one entry per name, read by the step, the batcher, the mesh checks and
the model builder, so a new objective is its loss function plus one `register_objective` call.

An entry says
* `loss(model, config, batch, key, target_encoder) -> (loss, metrics)`: the term on one batch;
  `key` is the step's key (derive your own streams from it), `target_encoder` the EMA encoder
  when `ema_target` is set, else None;
* `batch_fields`: what the batcher must draw (see research/data/text_batches.py for the fields
  it knows: packed rows `tokens`, `sentence_ids`, `document_ids`; sentence pairs `anchors`,
  `positives`; the context term's `context_*`);
* `heads`: the heads of the text model it trains (`lm`, `projection`, `levels`);
* `validate(config)`: extra checks run before anything is built.

A config's `objective.kind` names one objective or a sum ("mlm+contrastive"), weighted by
`objective.weights`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from flax import nnx

from research.config import EncoderRunConfig, objective_weights
from research.errors import UserError
from research.models.encoder import SIZES, EncoderConfig
from research.models.text_model import TextModel
from research.objectives import multilevel
from research.objectives.contrastive import contrastive_term
from research.objectives.mlm import mlm_term
from research.objectives.next_token import next_token_term

HEADS = ("lm", "projection", "levels")
PACKED_FIELDS = ("tokens", "sentence_ids", "document_ids")  # drawn with train.batch_size
PAIR_FIELDS = ("anchors", "positives")  # drawn with train.sentence_batch_size
CONTEXT_FIELDS = ("context_anchors", "context_positives", "context_ids", "context_positive_topics")


@dataclasses.dataclass(frozen=True)
class Objective:
    name: str
    loss: Callable
    batch_fields: tuple[str, ...]
    heads: tuple[str, ...] = ()
    ema_target: bool = False  # the state keeps an EMA copy of the encoder for this loss
    validate: Callable[[EncoderRunConfig], None] | None = None


OBJECTIVES: dict[str, Objective] = {}


def register_objective(objective: Objective) -> Objective:
    """Add an objective to the registry (a name may be registered once)."""
    if objective.name in OBJECTIVES:
        raise ValueError(f"objective {objective.name!r} is already registered")
    if "+" in objective.name or not objective.name:
        raise ValueError(f"objective name {objective.name!r} must be a non-empty word without +")
    unknown = set(objective.heads) - set(HEADS)
    if unknown:
        raise ValueError(f"objective {objective.name!r}: unknown heads {sorted(unknown)}")
    fields = set(PACKED_FIELDS) | set(PAIR_FIELDS) | set(CONTEXT_FIELDS)
    if not set(objective.batch_fields) <= fields:
        raise ValueError(
            f"objective {objective.name!r}: unknown batch fields "
            f"{sorted(set(objective.batch_fields) - fields)}; the batcher knows {sorted(fields)}"
        )
    OBJECTIVES[objective.name] = objective
    return objective


def configured(config: EncoderRunConfig) -> dict[str, tuple[Objective, float]]:
    """{name: (objective, weight)} of the config's terms, in the order `objective.kind` names
    them; an unknown name is a one-line error listing the registered ones."""
    weights = objective_weights(config.objective)
    unknown = [name for name in weights if name not in OBJECTIVES]
    if unknown:
        raise UserError(
            f"objective.kind={config.objective.kind!r}: unknown objective {unknown[0]!r}; "
            f"registered: {', '.join(OBJECTIVES)} (join several with +, e.g. mlm+contrastive)"
        )
    return {name: (OBJECTIVES[name], weight) for name, weight in weights.items()}


def batch_fields(config: EncoderRunConfig) -> set[str]:
    return {
        field for objective, _ in configured(config).values() for field in objective.batch_fields
    }


def heads(config: EncoderRunConfig) -> set[str]:
    return {head for objective, _ in configured(config).values() for head in objective.heads}


def needs_ema_target(config: EncoderRunConfig) -> bool:
    return any(objective.ema_target for objective, _ in configured(config).values())


def validate(config: EncoderRunConfig) -> None:
    for objective, _ in configured(config).values():
        if objective.validate is not None:
            objective.validate(config)


def encoder_config(config: EncoderRunConfig, vocab_size: int) -> EncoderConfig:
    model = config.model
    longest = max(config.data.max_len, config.data.sentence_len)
    if model.max_len and model.max_len < longest:
        raise UserError(
            f"model.max_len={model.max_len} is shorter than data.max_len/sentence_len "
            f"({longest}); lower those (a checkpoint's position table is fixed), or raise "
            "model.max_len when training from scratch"
        )
    shape = {
        k: getattr(model, k) for k in ("dim", "layers", "heads", "mlp_dim") if getattr(model, k)
    }
    return EncoderConfig.from_size(
        model.size,
        vocab_size,
        max_len=model.max_len or longest,
        dropout=model.dropout,
        attention_dropout=model.attention_dropout,
        positions=model.positions,
        dtype=model.dtype,
        norm=model.norm,
        token_types=model.token_types,
        embed_norm=model.embed_norm,
        norm_eps=model.norm_eps,
        **shape,
    )


def text_model(config: EncoderRunConfig, vocab_size: int, *, rngs: nnx.Rngs) -> TextModel:
    """The encoder with the heads the configured objectives train, and nothing else."""
    settings = encoder_config(config, vocab_size)
    wanted = heads(config)
    with_levels = "levels" in wanted
    objective = config.objective
    return TextModel(
        settings,
        heads=wanted,
        pooling=config.model.pooling,
        projection=config.model.projection,
        span_length=objective.span_length,
        levels=multilevel.levels(objective) if with_levels else ("sentence",),
        matryoshka=multilevel.matryoshka(objective, settings.dim) if with_levels else {},
        contexts=multilevel.contexts(objective) if with_levels else (),
        rngs=rngs,
    )


def _validate_multi_abstraction(config: EncoderRunConfig) -> None:
    multilevel.validate(config.objective, config.model.dim or SIZES[config.model.size]["dim"])


def _validate_contrastive(config: EncoderRunConfig) -> None:
    if config.objective.positives == "dropout" and config.model.dropout == 0:
        raise UserError(
            "objective.positives=dropout needs model.dropout > 0 (SimCSE's two views "
            "differ only by dropout)"
        )


register_objective(Objective("mlm", mlm_term, batch_fields=("tokens",), heads=("lm",)))
register_objective(
    Objective("next_token", next_token_term, batch_fields=("tokens",), heads=("lm",))
)
register_objective(
    Objective(
        "contrastive",
        contrastive_term,
        batch_fields=PAIR_FIELDS,
        heads=("projection",),
        validate=_validate_contrastive,
    )
)
register_objective(
    Objective(
        "multi_abstraction",
        multilevel.multi_abstraction_term,
        batch_fields=PACKED_FIELDS + CONTEXT_FIELDS,
        heads=("levels",),
        ema_target=True,
        validate=_validate_multi_abstraction,
    )
)
