"""The multi-abstraction objective: predict an EMA target's states at several levels, plus
context-conditioned (FiLM) contrastive spaces. DESIGN.md, "The multi-abstraction head".

Per step, on packed sequences with per-token sentence and document ids (-1 on specials/padding):

* the student encoder sees the input with masked *spans* (`mask_spans`); the EMA target encoder
  (objectives/ema.py) sees the full input; its per-token target is the layer-normalised mean of
  its top `target_layers` layers;
* each level pools targets and student states into items (`level_items`):
    token     one item per masked token: its own target; student input = its state
    span      one item per span start: mean over the span's tokens, targets and student alike
    sentence  one item per sentence of each sequence: mean over the sentence's tokens
    document  one item per document segment of each sequence: mean over the segment's tokens
  All pooling is fixed-shape (`segment_means`: one-hot sums with a static segment count,
  `window_means`: n shifted copies), so the step compiles once;
* the head (models/multilevel_head.py) maps student inputs to one prediction per level; the loss
  per level is regression to the normalised target (cosine: 1 - cos, or smooth-L1) plus
  `nce_weight` x in-batch InfoNCE of each prediction against the other items' targets of the
  same level, which keeps the predictions from collapsing onto a constant that the slowly moving
  target would otherwise accept;
* collapse monitor: per level, the standard deviation across the batch of the L2-normalised
  predictions and targets (mean over dimensions; 0 = collapsed, about 1/sqrt(D) = isotropic);
* context term (`context_nce`): see `context_info_nce`.

The levels' losses are averaged with `level_weights` (normalised to sum to 1), so adding levels
does not change the objective's scale; the context term is added with `context_weight`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from research.data import tokenizer as tok
from research.errors import UserError
from research.models.multilevel_head import LEVELS
from research.objectives.ema import layer_norm, target_encoder_states

FIRST_WORD_ID = len(tok.SPECIAL_TOKENS)  # ids below are special tokens, never masked
# In-batch InfoNCE compares every item with every other; above this many valid items per level
# a uniform random subset of this size takes part (the regression term still sees all items).
NCE_MAX_ITEMS = 1024


# ------------------------------------------------------------------------------------------------
# Config parsing (ObjectiveConfig's string fields)
# ------------------------------------------------------------------------------------------------


def _pairs(text: str, field: str) -> list[tuple[str, str]]:
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"objective.{field}: {item!r} is not NAME=VALUE")
        out.append((name.strip(), value.strip()))
    return out


def parse_levels(objective) -> tuple[str, ...]:
    levels = tuple(lv.strip() for lv in objective.levels.split(",") if lv.strip())
    unknown = [lv for lv in levels if lv not in LEVELS]
    if not levels or unknown or len(set(levels)) != len(levels):
        raise UserError(
            f"objective.levels={objective.levels!r}: expected distinct levels from "
            f"{', '.join(LEVELS)}, comma-separated"
        )
    return levels


def parse_level_weights(objective) -> dict[str, float]:
    """{level: weight}; levels not named in `level_weights` weigh 1."""
    levels = parse_levels(objective)
    weights = dict.fromkeys(levels, 1.0)
    for name, value in _pairs(objective.level_weights, "level_weights"):
        if name not in weights:
            raise UserError(f"objective.level_weights names {name!r}, not one of levels {levels}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UserError(f"objective.level_weights: {name}={value} is not a number") from None
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise UserError("objective.level_weights must be non-negative with a positive sum")
    return weights


def parse_matryoshka(objective, dim: int) -> dict[str, int]:
    """{level: n}: that level's loss (and embedding) uses only the first n dimensions."""
    levels = parse_levels(objective)
    sizes = {}
    for name, value in _pairs(objective.matryoshka, "matryoshka"):
        if name not in levels:
            raise UserError(f"objective.matryoshka names {name!r}, not one of levels {levels}")
        if not value.isdigit() or not 1 <= int(value) <= dim:
            raise UserError(f"objective.matryoshka: {name}={value} must be in 1..{dim}")
        sizes[name] = int(value)
    return sizes


def parse_contexts(objective) -> tuple[str, ...]:
    contexts = tuple(c.strip() for c in objective.contexts.split(",") if c.strip())
    if len(set(contexts)) != len(contexts):
        raise UserError(f"objective.contexts={objective.contexts!r} repeats a name")
    return contexts


def validate(objective, dim: int | None = None) -> None:
    """Loud, early checks of the multi-abstraction settings (called before anything is built)."""
    parse_level_weights(objective)
    parse_contexts(objective)
    if dim is not None:
        parse_matryoshka(objective, dim)
    checks = [
        (objective.span_length >= 1, "objective.span_length must be at least 1"),
        (objective.target_layers >= 1, "objective.target_layers must be at least 1"),
        (
            0 <= objective.ema_start <= objective.ema_end <= 1,
            "objective.ema_start <= objective.ema_end must both be in [0, 1]",
        ),
        (objective.nce_weight >= 0, "objective.nce_weight must be non-negative"),
        (objective.context_weight >= 0, "objective.context_weight must be non-negative"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)


# ------------------------------------------------------------------------------------------------
# Span masking and fixed-shape pooling
# ------------------------------------------------------------------------------------------------


def _shift(x: jax.Array, k: int) -> jax.Array:
    """Along axis 1: out[:, i] = x[:, i + k] (k > 0 looks ahead, k < 0 back), zero-filled."""
    if k == 0:
        return x
    pad = [(0, 0)] * x.ndim
    if k > 0:
        pad[1] = (0, k)
        return jnp.pad(x[:, k:], pad)
    pad[1] = (-k, 0)
    return jnp.pad(x[:, :k], pad)


def window_members(maskable: jax.Array, segment_ids: jax.Array, n: int) -> jax.Array:
    """(B, L, n) bool: member [b, i, k] says token i + k belongs to the span starting at i.

    A span is the next n maskable tokens of the start's own segment (sentence): it never crosses
    a sentence boundary or a special token, so it can be shorter than n at a sentence's end.
    """
    members = [_shift(maskable, k) & (_shift(segment_ids, k) == segment_ids) for k in range(n)]
    return jnp.stack(members, axis=-1) & maskable[..., None]


def window_means(x: jax.Array, members: jax.Array) -> jax.Array:
    """(B, L, D) -> (B, L, D) float32: at each i, the mean of x over the span starting at i."""
    x = x.astype(jnp.float32)
    n = members.shape[-1]
    m = members.astype(jnp.float32)
    total = sum(_shift(x, k) * m[..., k, None] for k in range(n))
    return total / jnp.maximum(m.sum(-1), 1.0)[..., None]


def segment_means(
    x: jax.Array, segment_ids: jax.Array, num_segments: int
) -> tuple[jax.Array, jax.Array]:
    """Per-sequence segment means: x (B, L, D), ids (B, L) in [0, S) or -1 (ignored).

    Returns (means (B, S, D) float32, counts (B, S)); a segment with no tokens has mean 0 and
    count 0. One-hot sums keep the shapes static (S is a static bound; ids >= S are ignored).
    """
    onehot = jax.nn.one_hot(segment_ids, num_segments, dtype=jnp.float32)  # -1 -> all zeros
    total = jnp.einsum("bls,bld->bsd", onehot, x.astype(jnp.float32))
    counts = onehot.sum(1)
    return total / jnp.maximum(counts, 1.0)[..., None], counts


def mask_spans(
    key: jax.Array,
    tokens: jax.Array,
    maskable: jax.Array,
    segment_ids: jax.Array,
    *,
    mask_id: int,
    vocab_size: int,
    rate: float,
    span_length: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Span masking. Returns (inputs, masked (B, L) bool, starts (B, L) bool, members (B, L, n)).

    Each maskable token starts a span independently with probability p = 1 - (1 - rate)^(1/n),
    so a token away from sentence ends is covered by at least one of the n spans that could
    reach it with probability `rate` (spans may overlap and merge; data2vec and SpanBERT-style
    geometric spans are alternatives). Covered tokens are replaced as mask_tokens does: [MASK]
    80%, a random token 10%, unchanged 10%, drawn per token.
    """
    n = span_length
    start_key, kind_key, random_key = jax.random.split(key, 3)
    p = 1.0 - (1.0 - rate) ** (1.0 / n)
    starts = maskable & jax.random.bernoulli(start_key, p, tokens.shape)
    members = window_members(maskable, segment_ids, n)
    covered = members & starts[..., None]
    masked = jnp.zeros_like(maskable)
    for k in range(n):
        masked = masked | _shift(covered[..., k], -k)
    kind = jax.random.uniform(kind_key, tokens.shape)
    random_tokens = jax.random.randint(random_key, tokens.shape, 0, vocab_size, tokens.dtype)
    inputs = jnp.where(masked & (kind < 0.8), jnp.asarray(mask_id, tokens.dtype), tokens)
    inputs = jnp.where(masked & (kind >= 0.8) & (kind < 0.9), random_tokens, inputs)
    return inputs, masked, starts, members


def max_segments(length: int) -> int:
    """Static bound on sentences (and documents) per packed sequence: [CLS] then each sentence
    takes at least one token and its [SEP], so there are at most (L - 1) // 2 of them."""
    return max((length - 1) // 2, 1)


def level_items(
    level: str,
    student: jax.Array,
    target: jax.Array,
    *,
    masked: jax.Array,
    starts: jax.Array,
    members: jax.Array,
    sentence_ids: jax.Array,
    document_ids: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(student inputs (N, D), pooled targets (N, D), weights (N,)) of one level, flattened.

    student and target are (B, L, D) states; weights mark the items that exist (a masked token,
    a span start, a sentence or document segment present in the sequence).
    """
    batch, length, dim = student.shape
    if level == "token":
        s, t, w = student, target, masked
    elif level == "span":
        s, t, w = window_means(student, members), window_means(target, members), starts
    elif level in ("sentence", "document"):
        ids = sentence_ids if level == "sentence" else document_ids
        s, counts = segment_means(student, ids, max_segments(length))
        t, _ = segment_means(target, ids, max_segments(length))
        w = counts > 0
    else:
        raise ValueError(f"level {level!r}; choose one of {LEVELS}")
    return (
        s.reshape(-1, dim).astype(jnp.float32),
        t.reshape(-1, dim).astype(jnp.float32),
        w.reshape(-1).astype(jnp.float32),
    )


# ------------------------------------------------------------------------------------------------
# Losses and monitors
# ------------------------------------------------------------------------------------------------


def _unit(x: jax.Array) -> jax.Array:
    x = x.astype(jnp.float32)
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
    total = weights.sum()
    return (values * weights).sum() / jnp.where(total > 0, total, 1.0)


def regression_loss(
    predictions: jax.Array, targets: jax.Array, weights: jax.Array, kind: str
) -> jax.Array:
    """Weighted mean over items of 1 - cos (kind "cosine") or smooth-L1 per dimension, with the
    target layer-normalised (no learned parameters) either way."""
    targets = layer_norm(targets)
    if kind == "cosine":
        per_item = 1.0 - (_unit(predictions) * _unit(targets)).sum(-1)
    elif kind == "smooth_l1":
        per_item = optax.huber_loss(predictions.astype(jnp.float32), targets, delta=1.0).mean(-1)
    else:
        raise ValueError(f"regression {kind!r}; choose cosine or smooth_l1")
    return _weighted_mean(per_item, weights)


def masked_info_nce(
    predictions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    temperature: float,
    exclude: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) of InfoNCE of prediction i against target i among the valid targets.

    Rows and columns with weight 0 take no part; `exclude` (N, N) bool additionally removes
    (i, j) pairs from the negatives (known false negatives; the diagonal is always kept).
    Cosine logits / temperature, float32, one direction (predictions -> targets).
    """
    logits = _unit(predictions) @ _unit(targets).T / temperature
    keep = (weights > 0)[None, :]
    if exclude is not None:
        keep = keep & ~(exclude & ~jnp.eye(len(weights), dtype=bool))
    logits = jnp.where(keep, logits, -1e9)
    labels = jnp.arange(len(weights))
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return _weighted_mean(losses, weights), _weighted_mean(correct, weights)


def spread(x: jax.Array, weights: jax.Array) -> jax.Array:
    """Collapse monitor: std across valid items of the L2-normalised rows, averaged over dims."""
    unit = _unit(x)
    w = weights[:, None]
    count = jnp.maximum(weights.sum(), 1.0)
    mean = (unit * w).sum(0) / count
    var = (jnp.square(unit - mean) * w).sum(0) / count
    return jnp.sqrt(var + 1e-12).mean()


def _subsample(key, arrays, weights, size):
    """Up to `size` valid items chosen uniformly at random (static shapes)."""
    if len(weights) <= size:
        return arrays, weights
    priority = weights + 0.5 * jax.random.uniform(key, weights.shape)
    _, index = jax.lax.top_k(priority, size)
    return [a[index] for a in arrays], weights[index]


def level_loss(
    predictions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    *,
    regression: str,
    temperature: float,
    key: jax.Array,
) -> dict[str, jax.Array]:
    """regression, nce, nce accuracy and the collapse monitor of one level; every term compares
    with the layer-normalised target."""
    targets = layer_norm(targets)
    out = {"regression": regression_loss(predictions, targets, weights, regression)}
    (p, t), w = _subsample(key, [predictions, targets], weights, NCE_MAX_ITEMS)
    out["nce"], out["nce_accuracy"] = masked_info_nce(p, t, w, temperature)
    out["pred_std"] = jax.lax.stop_gradient(spread(predictions, weights))
    out["target_std"] = jax.lax.stop_gradient(spread(targets, weights))
    return out


def context_info_nce(
    film,
    anchors: jax.Array,
    positives: jax.Array,
    context_ids: jax.Array,
    positive_topics: jax.Array,
    temperature: float,
) -> tuple[jax.Array, jax.Array]:
    """(loss, accuracy) of the context-conditioned contrastive term.

    A context c is a similarity relation: two sentences are c-similar when both come from
    documents of topic c. Row i is an anchor from a document of topic c_i, read in context c_i:
    query = FiLM(anchor_i, c_i). Its candidates are every row's positive read in the *same*
    context, FiLM(positive_j, c_i), so each comparison happens inside one context's space. Its
    positive is another sentence of topic c_i (encoder_loop.context_batch); the other rows'
    positives of topic c_i are c-similar too, so they are removed from its negatives; the rest
    (sentences of other topics) are the negatives. A sentence read in a context that is not its
    topic has no c-similar partner under this relation, so it is never an anchor: in context c
    it only appears as a negative of c's anchors. The c-space thus learns to bring c's sentences
    together and away from the rest, and says nothing about how non-c sentences relate to each
    other (an earlier variant gave off-context anchors themselves as positives, SimCSE-style: that
    asks every space to keep every sentence apart, and the context effect was weaker).

    film(embeddings (..., D), context ids (...)) -> (..., D); positive_topics are context indices,
    -1 for a topic that is not a context.
    """
    size = len(context_ids)
    queries = film(anchors, context_ids)  # (S, D)
    keys = film(
        jnp.broadcast_to(positives[None], (size, *positives.shape)),
        jnp.broadcast_to(context_ids[:, None], (size, size)),
    )  # (S, S, D): keys[i, j] = FiLM(positive_j, c_i)
    logits = jnp.einsum("sd,std->st", _unit(queries), _unit(keys)) / temperature
    same_relation = positive_topics[None, :] == context_ids[:, None]
    keep = ~same_relation | jnp.eye(size, dtype=bool)
    logits = jnp.where(keep, logits, -1e9)
    labels = jnp.arange(size)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = (jnp.argmax(logits, axis=-1) == labels).mean()
    return loss, accuracy


# ------------------------------------------------------------------------------------------------
# The objective
# ------------------------------------------------------------------------------------------------


def multi_abstraction_loss(
    model, target_encoder, config, batch: dict, key: jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The objective's loss on `batch` and its metrics.

    model: the TextModel (student encoder, `level_head`, `context_film`); target_encoder: the
    EMA encoder (its parameters get no gradient: `target_encoder_states` stops it).
    batch: tokens, sentence_ids, document_ids (B, L); for the context term also
    context_anchors, context_positives (S, Ls) and context_ids, context_positive_topics (S,).
    """
    objective = config.objective
    mask_key, student_key, nce_key, view_a, view_b = jax.random.split(key, 5)
    tokens = batch["tokens"]
    padding = tokens != tok.PAD
    maskable = tokens >= FIRST_WORD_ID
    sentence_ids, document_ids = batch["sentence_ids"], batch["document_ids"]
    inputs, masked, starts, members = mask_spans(
        mask_key,
        tokens,
        maskable,
        sentence_ids,
        mask_id=tok.MASK,
        vocab_size=model.settings.vocab_size,
        rate=objective.mask_rate,
        span_length=objective.span_length,
    )
    student = model.encoder(inputs, padding, deterministic=False, rngs=student_key)[-1]
    target = target_encoder_states(target_encoder, tokens, padding, objective.target_layers)
    level_weights = parse_level_weights(objective)
    metrics = {"masked_fraction": masked.sum() / jnp.maximum(maskable.sum(), 1)}
    total = jnp.zeros((), jnp.float32)
    for i, level in enumerate(model.levels):
        s, t, w = level_items(
            level,
            student,
            target,
            masked=masked,
            starts=starts,
            members=members,
            sentence_ids=sentence_ids,
            document_ids=document_ids,
        )
        predictions = model.level_head(s, level)
        size = model.level_dims(level)
        if size is not None:
            predictions, t = predictions[:, :size], t[:, :size]
        parts = level_loss(
            predictions,
            t,
            w,
            regression=objective.regression,
            temperature=objective.temperature,
            key=jax.random.fold_in(nce_key, i),
        )
        total = total + level_weights[level] * (
            parts["regression"] + objective.nce_weight * parts["nce"]
        )
        metrics.update({f"{level}_{name}": value for name, value in parts.items()})
    total = total / sum(level_weights.values())
    if model.context_film is not None and objective.context_weight > 0 and "context_ids" in batch:
        anchors, positives = batch["context_anchors"], batch["context_positives"]
        a = model.sentence_embedding(anchors, anchors != tok.PAD, deterministic=False, rngs=view_a)
        b = model.sentence_embedding(
            positives, positives != tok.PAD, deterministic=False, rngs=view_b
        )
        context_loss, metrics["context_accuracy"] = context_info_nce(
            model.context_film,
            a,
            b,
            batch["context_ids"],
            batch["context_positive_topics"],
            objective.temperature,
        )
        metrics["context_nce"] = context_loss
        total = total + objective.context_weight * context_loss
    return total, metrics
