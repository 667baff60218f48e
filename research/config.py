"""Typed experiment configs and dotted `key=value` overrides.

Every default lives in these dataclasses; `apply_overrides` rejects unknown keys and values of the
wrong type with one line that names the valid keys, so a typo can never silently train the wrong
thing. Override names follow gensim's vocabulary (`window`, `negatives`, `sample`, `min_count`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from typing import Any, Literal

from research.errors import UserError


@dataclasses.dataclass
class DataConfig:
    source: str = "synthetic"  # "synthetic", a local path/dir/glob, or "hf:NAME[:CONFIG]"
    text_field: str = "text"  # column holding the text in json/parquet/hub datasets
    split: str = "train"  # split to read from a hub dataset
    synthetic_tokens: int = 1_000_000  # size of the generated world when source=synthetic
    synthetic_seed: int = 0
    min_count: int = 5
    max_vocab: int = 0  # keep at most this many most frequent words; 0 = no limit
    # Read only the first N words of the source (counted after normalisation, before
    # min_count), cutting the document that reaches N; the vocabulary is built from that
    # prefix alone. 0 = the whole source. Nested prefixes train on growing amounts of the same
    # text (experiments/repro_word2vec_scaling.py).
    max_tokens: int = 0
    # Phrase detection before the vocabulary (word2phrase / gensim Phrases, research/data/
    # phrases.py): the number of passes, each joining adjacent words that score above
    # phrase_threshold into one token (new_york; a second pass makes new_york_times). 0 = off.
    phrases: int = 0
    phrase_min_count: int = 5  # word2phrase -min-count: the discount, and a pair's minimum
    phrase_threshold: float = 100.0  # word2phrase -threshold (gensim's default is 10)
    # N in the score: corpus tokens (word2phrase) or unigram + bigram types (gensim Phrases).
    phrase_scoring: Literal["word2phrase", "gensim"] = "word2phrase"
    phrase_max_bigrams: int = 20_000_000  # bigram table cap (16 bytes an entry); then pruned
    window: int = 5  # maximum distance between centre and context word
    sample: float = 1e-3  # frequent-word subsampling threshold (word2vec's formula); 0 = off
    negatives: int = 5  # negative samples per positive pair (0 with model.output=hs)
    cache_dir: str = ""  # where token arrays are cached; "" = $STRATA_CACHE or ~/.cache/strata


@dataclasses.dataclass
class ModelConfig:
    kind: Literal["skipgram", "cbow"] = "skipgram"
    dim: int = 100
    # The output layer: "negative" = negative sampling (data.negatives per pair); "hs" =
    # hierarchical softmax over a Huffman tree of the counts (word2vec.c -hs 1 -negative 0,
    # gensim hs=1 negative=0), which trains without negatives, so it needs data.negatives=0.
    output: Literal["negative", "hs"] = "negative"
    # Storage of the two tables. bfloat16 halves their memory and the bytes each step moves
    # (blocks still compute in float32); meant for accelerators, XLA:CPU runs it far slower
    # (BENCHMARKS.md). Vectors are exported as float32 either way.
    table_dtype: Literal["float32", "bfloat16"] = "float32"


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 5
    # Centre tokens per SGD step (one block). Blocks turn the work into matrix products (see
    # objectives/negative_sampling.py); much larger blocks make word2vec's SGD stale (row_hit_cap).
    batch_size: int = 1024
    chunk_size: int = 32  # centre tokens that share one set of negatives
    # Negatives drawn per chunk, reweighted to `negatives` per pair; 0 = by model kind: 32 for
    # skip-gram, 16 for CBOW (chosen by speed at equal quality; BENCHMARKS.md has the figures).
    shared_negatives: int = 0
    # Rows hit more than this many times in one block have their summed update scaled down to
    # it (see train/word2vec_step.py: stale summed updates diverge for frequent words); 0 = off;
    # -1 = by model, paired with the default learning rate so that hits × rate stays near 0.4:
    # 11 for skip-gram and 8 for CBOW with negative sampling (at 0.035 a cap of 16 diverges on
    # the synthetic world), 16 with hierarchical softmax (MODEL_DEFAULTS below).
    row_hit_cap: int = -1
    # c > 0: also scale each row's summed step down to at most c times the step that minimises
    # the loss along it (the loss's exact curvature in that row, the other rows held fixed;
    # train/word2vec_curvature.py), and count a shared negative's draw once
    # under the row-hit cap. Applies when train.parallel_blocks > 1 (P = 1 keeps word2vec's
    # calibrated step); negative sampling only; 0 = off; -1 = by how a step of P blocks crowds
    # its rows (train/word2vec_step.py, resolve_curvature_bound): for skip-gram on, with
    # train.row_hit_cap tripled, where both its block tokens and its negatives' draws pile above
    # the cap but the draws stay within the tripled cap (P >= 16 on the real corpora measured);
    # off elsewhere, and for CBOW (screened at P = 32, no gain). BENCHMARKS.md, "Parallel
    # blocks", has the figures.
    curvature_bound: float = -1.0
    # Skip a shared negative for the pairs whose positive word it is, as word2vec.c and gensim
    # skip a drawn negative equal to the target (off: such negatives push the target away).
    reject_target_negatives: bool = False
    steps_per_dispatch: int = 16  # blocks processed per jitted call (lax.scan)
    # Blocks per SGD step, updated from the same tables and scatter-added together: the unit of
    # data parallelism (split over the devices, so it must be a multiple of their count). 1 =
    # one block per step, word2vec's sequential SGD as closely as blocks allow.
    parallel_blocks: int = 1
    # Devices in the data-parallel mesh: 0 = all visible (every process's, when several run),
    # 1 = one device, no mesh. Changing it changes float rounding only, not the math.
    devices: int = 0
    # Split the embedding tables along the vocabulary over the devices instead of replicating
    # them (for tables too large for one device); the vocabulary must divide by the devices.
    shard_tables: bool = False
    # SGD's starting rate; 0 = by model: with negative sampling 0.035 for skip-gram and 0.05
    # (word2vec.c's CBOW rate) for CBOW, whose block updates fall below gensim's quality at
    # gensim's 0.025 (BENCHMARKS.md, 1 M to 15 M tokens); 0.025 (gensim's alpha) with
    # hierarchical softmax. config.json records the resolved rate and cap
    # (train/word2vec.py: resolve_model_defaults).
    learning_rate: float = 0.0
    min_learning_rate: float = 0.0001  # gensim's min_alpha; the rate decays linearly to it
    seed: int = 0
    log_every: int = 200  # steps between metric reads (the only host-device syncs)
    # Blocks between checkpoints; a final one is always written, and one on Ctrl-C / SIGTERM.
    # A save is synchronous (~0.2-0.3 s for the 14.7 M-token corpus's tables on a 2-core CPU):
    # every 2,000 blocks it took ~7.5 s of a 52 s CBOW run; every 20,000 (about 20 M subsampled
    # tokens, 15-25 s of CPU training) it costs ~1 %, and a SIGKILL loses at most that much.
    checkpoint_every: int = 20_000
    # 0: a non-finite loss stops the run (the last good checkpoint is kept); n > 0: skip the
    # update of a step whose gradients are not finite (optax.apply_if_finite), stopping only
    # after more than n consecutive bad steps. Skipped steps are counted in metrics.jsonl.
    skip_nonfinite: int = 0
    # Resume although the saved config differs in settings that change training (the
    # differences are printed and recorded in run.json); off = refuse with the list.
    allow_config_change: bool = False
    # XLA:CPU op schedule of the train step (ignored on GPU/TPU): "memory" (operations one after
    # another, depth first) or "concurrency" (independent operations side by side; XLA's default
    # in jaxlib 0.10.2, so left unset and XLA_FLAGS can change it); "auto" = "memory" for
    # skip-gram with negative sampling at parallel_blocks=1, the one setting it made faster on
    # the 2-core Intel machine, "concurrency" elsewhere (word2vec_cpu_scheduler; BENCHMARKS.md,
    # "Skip-gram on XLA:CPU's memory-optimised op schedule"). Op order only: the same numbers.
    # A step compiled with "memory" cannot be transformed further (jax.grad, or a jit around
    # it: XLA takes compiler options on a top-level jit only); use "concurrency" for that.
    # train.xla_options.xla_cpu_scheduler_type, if given, overrides it.
    cpu_scheduler: Literal["auto", "memory", "concurrency"] = "auto"
    # XLA options for the train step's jit alone, by XLA's flag names without the dashes
    # (`--set train.xla_options.xla_backend_optimization_level=0` compiles a short debugging run
    # faster and runs it slower); empty = the compiler's settings (XLA_FLAGS or its defaults).
    xla_options: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class EvalConfig:
    # The data source's default suite: on the synthetic world its analogy and similarity gold
    # files; on any source the nearest-neighbour table. Benchmarks by path go in `evals`.
    default_suite: bool = True
    # Query words of the nearest-neighbour table; [] = the plot pairs' words (or a fixed list).
    neighbours: list[str] = dataclasses.field(default_factory=list)
    # Where `data:` paths of evaluators (the named suites' files) are found; "" =
    # $STRATA_EVAL_DATA, else ../shared/data beside the repository (research/eval/suites.py).
    data_dir: str = ""


Evals = dict[str, dict[str, Any]]  # {name: {"kind": registered evaluator kind, **options}}
# `--set evals=real` (a bare name, or several joined by commas) selects a named suite: the entry
# {"real": {"kind": "suite"}}, expanded into its evaluators when they are built
# (research/eval/suites.py); later `--set evals.NAME.OPTION=...` entries without a kind change
# the options of the suite's evaluator NAME.
SUITE_KIND = "suite"


@dataclasses.dataclass
class LogConfig:
    wandb: bool = False
    wandb_project: str = "strata"
    wandb_group: str = ""
    # Also log the exported vectors and the final checkpoint as W&B artifacts (a copy of each
    # is uploaded, so off by default; research/io/wandb_results.py).
    wandb_artifacts: bool = False
    progress: bool = True  # progress bar on stderr
    # Trace this many step calls with jax.profiler, from the first one after the first log
    # interval (compilation left out), into WORKDIR/profile: TensorBoard's profile plugin, or
    # its perfetto_trace.json.gz on ui.perfetto.dev. 0 = no trace.
    profile_dispatches: int = 0


@dataclasses.dataclass
class Config:
    name: str = "word2vec"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    # Evaluators beyond the default suite, e.g. --set evals.ws353.kind=word_similarity
    # --set evals.ws353.path=wordsim353.tsv (kinds and options: research/eval/__init__.py).
    evals: Evals = dataclasses.field(default_factory=dict)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_json(config: Any) -> str:
    return json.dumps(to_dict(config), indent=2, sort_keys=True)


def from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a (nested) config dataclass from `to_dict` output, e.g. a run's config.json."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        if dataclasses.is_dataclass(hints[field.name]):
            value = from_dict(hints[field.name], value)
        kwargs[field.name] = value
    return cls(**kwargs)


def valid_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            keys += valid_keys(value, f"{prefix}{field.name}.")
        else:
            keys.append(f"{prefix}{field.name}")
    return keys


# Override syntax (the only parser of config values; fields are typed, never mini-languages):
#   scalars       train.epochs=5, log.wandb=true, model.kind=cbow (a Literal's choices)
#   lists         objective.levels=[token,span] (brackets optional: token,span; [] = empty)
#   mappings      objective.weights={mlm: 1, contrastive: 0.5} or mlm=1,contrastive=0.5,
#                 one entry: objective.weights.contrastive=0.5
#   evaluators    evals.sts.kind=sentence_similarity --set evals.sts.path=FILE (an entry is
#                 created by its first key), evals.sts={"kind": "...", "path": "..."} (JSON),
#                 evals.sts= (removes it), evals={} (removes all), evals=real (a named suite)


def _scalar(key: str, text: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        if text not in choices:
            raise UserError(f"--set {key}={text}: expected one of {', '.join(choices)}")
        return text
    if annotation is bool:
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise UserError(f"--set {key}={text}: expected true or false")
    if annotation is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise UserError(f"--set {key}={text}: expected an integer") from None
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise UserError(f"--set {key}={text}: expected a number") from None
    if annotation is str:
        return text
    if annotation is Any:
        return _json_or_text(text)
    raise TypeError(f"config field {key} has unsupported type {annotation!r}")


def _json_or_text(text: str) -> Any:
    """An option value without a declared type: a JSON scalar (30000, 0.5, true, null) or, when
    it is not one, the text itself (a path, a name)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if not isinstance(value, (list, dict)) else text


_SUITE_NAMES = re.compile(r"\s*[A-Za-z_][\w-]*\s*(,\s*[A-Za-z_][\w-]*\s*)*")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_text(value: Any) -> str:
    """A JSON item as the text `_scalar` parses: strings as they are, numbers and booleans as
    JSON writes them (so ["a", 1] and [a, 1] give the same typed list)."""
    return value if isinstance(value, str) else json.dumps(value)


def _items(key: str, text: str, opening: str, closing: str) -> list[str]:
    text = text.strip()
    if text.startswith(opening):
        if not text.endswith(closing):
            raise UserError(f"--set {key}={text}: a {opening} without its {closing}")
        text = text[1:-1]
    return [item.strip() for item in text.split(",") if item.strip()]


def _parse_value(key: str, text: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"config field {key} has a union type; give it one concrete type")
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        parsed = _json(text.strip())
        items = (
            [_json_text(v) for v in parsed]
            if isinstance(parsed, list)
            else _items(key, text, "[", "]")
        )
        return [_scalar(key, item, item_type) for item in items]
    if origin is dict:
        key_type, value_type = typing.get_args(annotation)
        if typing.get_origin(value_type) is dict or value_type is dict:
            if _SUITE_NAMES.fullmatch(text):
                return {name.strip(): {"kind": SUITE_KIND} for name in text.split(",")}
            try:
                value = json.loads(text or "{}")
            except ValueError:
                value = None
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise UserError(
                    f"--set {key}={text}: expected a JSON object of objects, e.g. "
                    '{"sts": {"kind": "sentence_similarity", "path": "sts-test.csv"}}, a named '
                    f"suite ({key}=real), or one entry's option: --set {key}.NAME.OPTION=VALUE"
                )
            return value
        parsed = _json(text.strip())
        if isinstance(parsed, dict):  # a JSON object: {"mlm": 1, "contrastive": 0.5}
            return {
                _scalar(key, name, key_type): _scalar(f"{key}.{name}", _json_text(v), value_type)
                for name, v in parsed.items()
            }
        mapping = {}
        for item in _items(key, text, "{", "}"):
            name, sep, value = item.partition("=") if "=" in item else item.partition(":")
            if not sep or not name.strip():
                raise UserError(
                    f"--set {key}={text}: {item!r} is not NAME=VALUE; expected e.g. "
                    f"{key}=a=1,b=0.5 or {key}={{a: 1, b: 0.5}}"
                )
            mapping[_scalar(key, name.strip(), key_type)] = _scalar(
                f"{key}.{name.strip()}", value.strip(), value_type
            )
        return mapping
    return _scalar(key, text, annotation)


def _unknown_key(config: Any, key: str) -> UserError:
    return UserError(f"unknown config key {key!r}; valid keys: {', '.join(valid_keys(config))}")


def _set_in_mapping(
    config: Any, key: str, mapping: dict, path: list[str], text: str, annotation: Any
) -> None:
    """`key` addresses an entry (or an entry's option) of a mapping field."""
    _, value_type = typing.get_args(annotation)
    nested = typing.get_origin(value_type) is dict or value_type is dict
    if len(path) == 1:
        if nested and text == "":
            mapping.pop(path[0], None)
        elif nested:
            entry = _json(text)
            if not isinstance(entry, dict):
                raise UserError(
                    f'--set {key}={text}: expected a JSON object, e.g. {{"kind": "analogy", '
                    f'"path": "questions-words.txt"}}, or one option: --set {key}.OPTION=VALUE'
                )
            mapping[path[0]] = entry
        else:
            mapping[path[0]] = _scalar(key, text, value_type)
        return
    if not nested or len(path) != 2:
        raise _unknown_key(config, key)
    mapping.setdefault(path[0], {})[path[1]] = _json_or_text(text)


def apply_override(config: Any, assignment: str) -> None:
    """Apply one `a.b.c=value` assignment in place, checking the key and the value's type."""
    if "=" not in assignment:
        raise UserError(f"--set {assignment}: expected KEY=VALUE, e.g. --set train.epochs=5")
    key, text = assignment.split("=", 1)
    key, text = key.strip(), text.strip()
    parts = key.split(".")
    target = config
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(target):
            raise _unknown_key(config, key)
        fields = {f.name for f in dataclasses.fields(target)}
        if part not in fields:
            raise _unknown_key(config, key)
        value = getattr(target, part)
        last = i == len(parts) - 1
        if dataclasses.is_dataclass(value):
            if last:
                raise _unknown_key(config, key)
            target = value
            continue
        annotation = typing.get_type_hints(type(target))[part]
        if last:
            setattr(target, part, _parse_value(key, text, annotation))
        elif typing.get_origin(annotation) is dict:
            _set_in_mapping(config, key, value, parts[i + 1 :], text, annotation)
        else:
            raise _unknown_key(config, key)
        return


def apply_overrides(config: Any, assignments: list[str]) -> Any:
    for assignment in assignments:
        apply_override(config, assignment)
    return config


# ------------------------------------------------------------------------------------------------
# Transformer encoder experiments
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TextDataConfig:
    source: str = "synthetic"  # as DataConfig.source; the synthetic world keeps sentence breaks
    text_field: str = "text"
    split: str = "train"
    synthetic_tokens: int = 300_000
    synthetic_seed: int = 0
    # How a text row becomes sentences: "split" by research/data/sentences.py (paragraphs,
    # abbreviations, quotes), or "rows": each row is one sentence (e.g. SimCSE's wiki1m).
    # A list-valued column (the synthetic world's) is taken as its sentences either way.
    sentences: Literal["split", "rows"] = "split"
    max_len: int = 128  # tokens per packed sequence
    sentence_len: int = 48  # tokens per sentence in the sentence table (contrastive, embedding)
    vocab_size: int = 4000  # WordPiece vocabulary trained on the corpus
    # A strata tokenizer.json to tokenise with instead of training one (vocab_size is then
    # ignored); set from the checkpoint by train.init_from=hf:NAME or a Hugging Face directory.
    tokenizer: str = ""
    cache_dir: str = ""


@dataclasses.dataclass
class EncoderModelConfig:
    size: Literal["tiny", "mini", "small", "base"] = "tiny"
    positions: Literal["learned", "sinusoidal", "rotary"] = "learned"
    dtype: Literal["float32", "bfloat16"] = "float32"
    dropout: float = 0.1
    pooling: Literal["mean", "cls", "last"] = "mean"  # sentence embedding = pooled last layer
    # The contrastive projection head, used by the loss only (embeddings are taken below it):
    # "linear" = one dense layer; "mlp" = dense -> tanh, SimCSE's MLP over [CLS].
    projection: Literal["linear", "mlp"] = "linear"
    # BERT's architecture (research/models/encoder.py): LayerNorm placement, token-type table
    # rows, LayerNorm on the embeddings, LayerNorm epsilon. train.init_from of a Hugging Face
    # checkpoint sets these, and the shape below, from the checkpoint's config.json.
    norm: Literal["pre", "post"] = "pre"
    attention_dropout: float = 0.0  # on the attention probabilities (BERT and SimCSE: 0.1)
    token_types: int = 0
    embed_norm: bool = False
    norm_eps: float = 1e-6
    # Shape beyond the named sizes: 0 = the size's value; max_len 0 = the longest of
    # data.max_len and data.sentence_len (the position table's rows).
    dim: int = 0
    layers: int = 0
    heads: int = 0
    mlp_dim: int = 0
    max_len: int = 0


@dataclasses.dataclass
class ObjectiveConfig:
    # "mlm", "next_token", "contrastive", "multi_abstraction", or a sum such as "mlm+contrastive"
    kind: str = "mlm"
    weights: dict[str, float] = dataclasses.field(default_factory=dict)  # unnamed terms weigh 1
    mask_rate: float = 0.15  # mlm tokens; multi_abstraction: tokens covered by masked spans
    temperature: float = 0.05  # contrastive, and multi_abstraction's InfoNCE terms
    positives: Literal["neighbour", "dropout"] = "neighbour"  # cpt-text or SimCSE
    # multi_abstraction (objectives/multilevel.py; the README's "The multi-abstraction head")
    levels: list[str] = dataclasses.field(
        default_factory=lambda: ["token", "span", "sentence", "document"]
    )  # which levels the head predicts
    level_weights: dict[str, float] = dataclasses.field(default_factory=dict)  # unnamed: 1
    span_length: int = 3  # tokens per masked span (and per span-level item)
    # whole sentences withheld from the student: the sentence level predicts them from the rest
    # of their document, the document level its target from the sentences left
    sentence_mask_rate: float = 0.25
    # target = layer-normalised mean of the EMA encoder's top k blocks; 0 = the top half
    target_layers: int = 0
    # EMA teacher (objectives/ema.py): "half_life" = constant tau whose half-life is
    # ema_half_life x train.steps; "linear" = data2vec's tau from ema_start to ema_end. 5 % of
    # the run: ahead of 1 % on both worlds measured, behind 20 % on prose STS only (README).
    ema_schedule: Literal["half_life", "linear"] = "half_life"
    ema_half_life: float = 0.05
    ema_start: float = 0.999
    ema_end: float = 0.9999
    regression: Literal["cosine", "smooth_l1"] = "cosine"  # per-level loss to the target
    nce_weight: float = 0.1  # in-batch InfoNCE per level, against collapse
    # the InfoNCE's negatives: every item of the level in the batch, or ("sequence") only the
    # items of the same packed sequence: its document's other sentences and its neighbours
    nce_negatives: Literal["batch", "sequence"] = "batch"
    # e.g. {token: 64, document: 16}: that level uses only its first n dims
    matryoshka: dict[str, int] = dataclasses.field(default_factory=dict)
    contexts: list[str] = dataclasses.field(default_factory=list)  # [] = the world's topics
    context_weight: float = 0.5  # context-conditioned contrastive term; 0 = off


@dataclasses.dataclass
class EncoderTrainConfig:
    steps: int = 1500
    batch_size: int = 32  # packed sequences per step (mlm, next_token)
    sentence_batch_size: int = 64  # sentence pairs per step (contrastive)
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    # Devices in the data-parallel mesh (as TrainConfig.devices): the batches' rows are split
    # over them, so batch_size and sentence_batch_size must divide by their count.
    devices: int = 0
    skip_nonfinite: int = 0  # as TrainConfig.skip_nonfinite
    allow_config_change: bool = False  # as TrainConfig.allow_config_change
    # XLA:CPU op schedule of the train step (ignored on GPU/TPU). "memory" orders ops one after
    # another so each GEMM gets every core; XLA's default, "concurrency", runs independent ops
    # side by side. "memory" was faster on 2 cores (BENCHMARKS.md); on a many-core CPU, measure
    # both.
    cpu_scheduler: Literal["memory", "concurrency"] = "memory"
    xla_options: dict[str, str] = dataclasses.field(default_factory=dict)  # as TrainConfig's
    # Staged training: start from the weights of another encoder run (its workdir). Tokeniser
    # and model shape must match; heads it lacks, the optimizer and the step start fresh.
    # A resumed run resumes from its own checkpoint (research/train/run_weights.py).
    init_from: str = ""


@dataclasses.dataclass
class EncoderEvalConfig:
    # The data source's default suite: on the synthetic world its sense pairs, STS, retrieval,
    # polysemy and level-probe gold files. Benchmarks by path go in `evals`.
    default_suite: bool = True
    top_layers: int = 1  # token embeddings = mean of the top k layers' states
    polysemy_lemma: str = ""  # word for plots/polysemy.png; "" = the one with most examples
    # Level probes on the synthetic world: K-fold cross-validation over all items (K >= 2), or
    # 0 for the files' own split (hierarchy.tsv's test split is 10 of its 48 members).
    probe_folds: int = 10
    data_dir: str = ""  # as EvalConfig.data_dir
    # Periodic evaluation for model selection: every `every` steps (0 = off) run the evaluator
    # that `select` names ("NAME/METRIC", e.g. stsb_dev/spearman; higher is better), log its
    # metrics, keep the best parameters in best/; the final evaluation and load_encoder use them.
    every: int = 0
    select: str = ""
    # Also score the multi-abstraction head's own embeddings: for each level named here, the
    # sentence evaluators (STS, retrieval) read the head's embedding of the whole text at that
    # level and the word-in-context ones (sense, polysemy) its per-position predictions (token
    # and span levels); metrics are named "<evaluator>@head_<level>/<metric>". [all] = every
    # level of the head; [] = only the pooled encoder, which every evaluator reads (the probes
    # read the head's levels anyway). A comparison shows them as "<method> · head <level>" rows.
    head_levels: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EncoderRunConfig:
    name: str = "encoder"
    data: TextDataConfig = dataclasses.field(default_factory=TextDataConfig)
    model: EncoderModelConfig = dataclasses.field(default_factory=EncoderModelConfig)
    objective: ObjectiveConfig = dataclasses.field(default_factory=ObjectiveConfig)
    train: EncoderTrainConfig = dataclasses.field(default_factory=EncoderTrainConfig)
    eval: EncoderEvalConfig = dataclasses.field(default_factory=EncoderEvalConfig)
    # Evaluators beyond the default suite, e.g. --set evals.stsb.kind=sentence_similarity
    # --set evals.stsb.path=sts-test.csv (kinds and options: research/eval/__init__.py).
    evals: Evals = dataclasses.field(default_factory=dict)
    log: LogConfig = dataclasses.field(default_factory=LogConfig)


def objective_terms(objective: ObjectiveConfig) -> list[str]:
    """The terms of `kind`, the name of a sum such as "mlm+contrastive"."""
    return [t.strip() for t in objective.kind.split("+") if t.strip()]


def objective_weights(objective: ObjectiveConfig) -> dict[str, float]:
    """{term: weight}: the terms of `kind`, each weighing 1 unless `weights` names it."""
    terms = objective_terms(objective)
    if not terms or len(set(terms)) != len(terms):
        raise UserError(
            f"objective.kind={objective.kind!r}: expected distinct objective names joined by +, "
            "e.g. mlm+contrastive"
        )
    unknown = sorted(set(objective.weights) - set(terms))
    if unknown:
        raise UserError(
            f"objective.weights names {', '.join(unknown)}, not a term of "
            f"objective.kind={objective.kind!r}"
        )
    return {term: float(objective.weights.get(term, 1.0)) for term in terms}


# (learning rate, row-hit cap) by (model kind, output layer), paired so that hits x rate stays
# near 0.4. With negative sampling, block updates fell below gensim's quality at gensim's 0.025:
# skip-gram takes 0.035 (since f08b490), CBOW 0.05, word2vec.c's own CBOW rate (BENCHMARKS.md,
# 1 M and 14.7 M tokens, 3 seeds each). Hierarchical softmax keeps gensim's 0.025.
MODEL_DEFAULTS = {
    ("skipgram", "negative"): (0.035, 11),
    ("cbow", "negative"): (0.05, 8),
    ("skipgram", "hs"): (0.025, 16),
    ("cbow", "hs"): (0.025, 16),
}


def word2vec_learning_rate(config: Config) -> float:
    """train.learning_rate, or its default for the model kind and output layer."""
    if config.train.learning_rate > 0:
        return config.train.learning_rate
    return MODEL_DEFAULTS[config.model.kind, config.model.output][0]


def row_hit_cap(config: Config) -> int:
    """train.row_hit_cap (0 = off), or its default for the model kind and output layer."""
    if config.train.row_hit_cap >= 0:
        return config.train.row_hit_cap
    return MODEL_DEFAULTS[config.model.kind, config.model.output][1]


def word2vec_cpu_scheduler(config: Config) -> Literal["memory", "concurrency"]:
    """train.cpu_scheduler, or for "auto" the op schedule measured faster for this model on the
    2-core Intel machine (TrainConfig.cpu_scheduler), at the resolved train.parallel_blocks."""
    if config.train.cpu_scheduler != "auto":
        return config.train.cpu_scheduler
    memory = (
        config.model.kind == "skipgram"
        and config.model.output == "negative"
        and config.train.parallel_blocks == 1
    )
    return "memory" if memory else "concurrency"


def shared_negatives(config: Config) -> int:
    """Negatives drawn per chunk: train.shared_negatives, or its default for the model kind."""
    if config.train.shared_negatives > 0:
        return config.train.shared_negatives
    return 16 if config.model.kind == "cbow" else 32
