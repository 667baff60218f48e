"""Hugging Face BERT checkpoints in and out of strata's encoder, without torch.

    python -m research.bert import BERT_DIR_OR_hf:NAME RUN_DIR   # a strata run (research/bert.py)
    python -m research.bert export RUN_DIR OUT_DIR               # a BERT directory
    launch.py EXPERIMENT --set train.init_from=BERT_DIR_OR_hf:NAME         # start a run from it

Import reads a checkpoint directory (`config.json`, `model.safetensors` read with safetensors'
numpy API, the WordPiece `tokenizer.json` and/or `vocab.txt`) into a post-norm strata encoder
(research/models/encoder.py: `norm="post"`, token-type table, embedding LayerNorm, BERT's
epsilon) with the MLM head, and writes it as a strata run directory (config.json, tokenizer.json,
checkpoints/), which `load_encoder`, `research.search` and `train.init_from` read like any run.

Vocabulary. strata fixes the special ids (PAD 0, UNK 1, CLS 2, SEP 3, MASK 4, DOC 5;
research/data/tokenizer.py) and the whole code base uses them as constants; BERT has
[PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103. Rather than thread a second id scheme
through packing, masking and the embedders, import permutes the vocabulary: BERT's five
specials go to ids 0..4, its first unused token ([unused0]; or a [DOC] it already has) becomes
[DOC] at id 5, and every other token keeps BERT's relative order. The word-embedding rows and the
MLM output bias are permuted the same way, so the imported model computes exactly BERT's
function. The checkpoint's vocab.txt is kept beside the tokenizer (`hf_vocab.txt`, copied into
every run started from it) and export applies the inverse permutation, so export -> import is
exact and export reproduces BERT's vocab.txt.

Not imported: the next-sentence head, and the pooler (dense -> tanh over [CLS], which only that
head reads) except from a headless BertModel, where it becomes the `model.projection=mlp` head
(the same dense -> tanh). Export writes the pooler from such a head when the run has one, else
transformers initialises it (and warns). A run started from a checkpoint keeps its own dropout
settings (model.dropout, model.attention_dropout); the imported run has the checkpoint's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from research import config as config_lib
from research.config import EncoderRunConfig
from research.data import tokenizer as tok
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.models.encoder import SIZES
from research.objectives.registry import encoder_config, text_model

WEIGHTS = "model.safetensors"
HF_VOCAB = "hf_vocab.txt"  # the checkpoint's vocab.txt, in its own order (tok.TOKENIZER_COMPANIONS)
HF_PREFIX = "hf:"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # strata ids 0..4
UNUSED = re.compile(r"\[unused\d+\]")
SUPPORTED = "BERT (model_type bert: BertModel, BertForMaskedLM, BertForPreTraining)"
HUB_FILES = ["config.json", WEIGHTS, "tokenizer.json", "vocab.txt", "tokenizer_config.json"]


# ------------------------------------------------------------------------------------------------
# Parameter names: strata path <-> BERT tensor name, and the layout change between them
# ------------------------------------------------------------------------------------------------


def _norm(strata: str, bert: str) -> list[tuple[str, str, str]]:
    return [
        (f"{strata}/scale", f"{bert}.weight", "copy"),
        (f"{strata}/bias", f"{bert}.bias", "copy"),
    ]


def _dense(strata: str, bert: str) -> list[tuple[str, str, str]]:
    return [
        (f"{strata}/kernel", f"{bert}.weight", "transpose"),
        (f"{strata}/bias", f"{bert}.bias", "copy"),
    ]


def name_map(layers: int, token_types: bool) -> list[tuple[str, str, str]]:
    """(strata path, BERT name without the `bert.` prefix of a task model, layout) for the
    encoder. Layouts: copy; transpose (torch Linear is (out, in), nnx (in, out)); qkv (in, H, K);
    out (H, K, out); heads (H, K) biases; vocab (rows in BERT's vocabulary order)."""
    names = [
        ("encoder/token_embed/embedding", "embeddings.word_embeddings.weight", "vocab"),
        ("encoder/position_embed/embedding", "embeddings.position_embeddings.weight", "copy"),
        *_norm("encoder/embed_norm", "embeddings.LayerNorm"),
    ]
    if token_types:
        names.append(
            ("encoder/type_embed/embedding", "embeddings.token_type_embeddings.weight", "copy")
        )
    for i in range(layers):
        block, layer = f"encoder/blocks/{i}", f"encoder.layer.{i}"
        for part in ("query", "key", "value"):
            names.append(
                (f"{block}/attention/{part}", f"{layer}.attention.self.{part}.weight", "qkv")
            )
            names.append(
                (f"{block}/attention/{part}_bias", f"{layer}.attention.self.{part}.bias", "heads")
            )
        names += [
            (f"{block}/attention/out", f"{layer}.attention.output.dense.weight", "out"),
            (f"{block}/attention/out_bias", f"{layer}.attention.output.dense.bias", "copy"),
            *_norm(f"{block}/attention_norm", f"{layer}.attention.output.LayerNorm"),
            *_dense(f"{block}/mlp/up", f"{layer}.intermediate.dense"),
            *_dense(f"{block}/mlp/down", f"{layer}.output.dense"),
            *_norm(f"{block}/mlp_norm", f"{layer}.output.LayerNorm"),
        ]
    return names


MLM_NAMES = [
    *_dense("lm_head/dense", "cls.predictions.transform.dense"),
    *_norm("lm_head/norm", "cls.predictions.transform.LayerNorm"),
    ("lm_head/bias", "cls.predictions.bias", "vocab"),
]
POOLER_NAMES = _dense("projection/out", "pooler.dense")


def _to_strata(array: np.ndarray, layout: str, heads: int, order: np.ndarray) -> np.ndarray:
    if layout == "transpose":
        return array.T
    if layout == "qkv":
        return array.T.reshape(array.shape[1], heads, -1)
    if layout == "heads":
        return array.reshape(heads, -1)
    if layout == "out":
        return array.T.reshape(heads, -1, array.shape[0])
    if layout == "vocab":
        return array[order]
    return array


def _to_bert(array: np.ndarray, layout: str, inverse: np.ndarray) -> np.ndarray:
    if layout == "transpose":
        return array.T
    if layout == "qkv":
        return array.reshape(array.shape[0], -1).T
    if layout == "heads":
        return array.reshape(-1)
    if layout == "out":
        return array.reshape(-1, array.shape[-1]).T
    if layout == "vocab":
        return array[inverse]
    return array


def flat_params(state: Any) -> dict[str, np.ndarray]:
    """{"encoder/blocks/0/attention/query": array, ...} of an nnx params state."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        keys = [getattr(k, "key", getattr(k, "idx", None)) for k in path if hasattr(k, "key")]
        flat["/".join(str(k) for k in keys)] = np.asarray(leaf)
    return flat


def _fill(abstract: Any, values: dict[str, np.ndarray]) -> Any:
    """`abstract` (a params state of ShapeDtypeStructs) with every leaf taken from `values`."""

    def leaf(path, like):
        keys = [getattr(k, "key", getattr(k, "idx", None)) for k in path if hasattr(k, "key")]
        name = "/".join(str(k) for k in keys)
        value = values[name]
        if value.shape != like.shape:
            raise UserError(
                f"checkpoint tensor for {name} has shape {value.shape}, not {like.shape}"
            )
        return jax.numpy.asarray(value, like.dtype)

    return jax.tree_util.tree_map_with_path(leaf, abstract)


# ------------------------------------------------------------------------------------------------
# Vocabulary permutation and the tokenizer
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Vocabulary:
    hf_tokens: list[str]  # the checkpoint's vocabulary in its own id order
    doc_token: str  # the checkpoint's token that becomes strata's [DOC]
    order: np.ndarray  # strata id -> checkpoint id
    inverse: np.ndarray  # checkpoint id -> strata id

    @classmethod
    def from_hf(cls, hf_tokens: list[str], where: str) -> Vocabulary:
        index = {t: i for i, t in enumerate(hf_tokens)}
        if len(index) != len(hf_tokens):
            repeated = sorted({t for t in hf_tokens if hf_tokens.count(t) > 1})[:3]
            raise UserError(
                f"{where}: the vocabulary repeats {', '.join(repeated)}; ids are ambiguous"
            )
        missing = [t for t in BERT_SPECIALS if t not in index]
        if missing:
            raise UserError(
                f"{where}: the vocabulary has no {', '.join(missing)}; only BERT WordPiece "
                "vocabularies (with [PAD] [UNK] [CLS] [SEP] [MASK]) can be imported"
            )
        doc = (
            "[DOC]"
            if "[DOC]" in index
            else next((t for t in hf_tokens if UNUSED.fullmatch(t)), None)
        )
        if doc is None:
            raise UserError(
                f"{where}: the vocabulary has neither [DOC] nor an [unusedN] token for strata's "
                "document-boundary token; add [unused0] to vocab.txt (and a row to the embeddings)"
            )
        first = [index[t] for t in [*BERT_SPECIALS, doc]]
        taken = set(first)
        order = np.array(first + [i for i in range(len(hf_tokens)) if i not in taken], np.int64)
        return cls(hf_tokens, doc, order, np.argsort(order))

    @property
    def strata_tokens(self) -> list[str]:
        return [*tok.SPECIAL_TOKENS, *(self.hf_tokens[i] for i in self.order[6:])]


def _bert_tokenizer_dict(lowercase: bool) -> dict:
    """The pipeline of BERT's tokenizer.json (for a checkpoint that ships only vocab.txt)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return json.loads(tokenizer.to_str())


def _added(content: str, id_: int) -> dict:
    return {
        "id": id_,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def _with_vocab(base: dict, tokens: list[str], specials: dict[str, int]) -> dict:
    """`base` tokenizer JSON with its WordPiece vocabulary replaced by `tokens` (in id order)
    and its added special tokens set to `specials` {content: id}; no padding or truncation."""
    data = dict(base)
    model = dict(data["model"])
    model["vocab"] = {t: i for i, t in enumerate(tokens)}
    model.setdefault("unk_token", "[UNK]")
    model.setdefault("continuing_subword_prefix", "##")
    data["model"] = model
    data["added_tokens"] = [_added(t, i) for t, i in sorted(specials.items(), key=lambda x: x[1])]
    data["padding"] = None
    data["truncation"] = None
    return data


def strata_tokenizer_json(base: dict, vocab: Vocabulary) -> str:
    """The checkpoint's tokenizer renumbered to strata's ids, [DOC] special, no post-processor
    (strata adds [CLS]/[SEP] itself, research/data/sequences.py)."""
    data = _with_vocab(base, vocab.strata_tokens, {t: i for i, t in enumerate(tok.SPECIAL_TOKENS)})
    data["post_processor"] = None
    return json.dumps(data, ensure_ascii=False, indent=2)


def _lowercase(tokenizer_dict: dict) -> bool:
    normalizer = tokenizer_dict.get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer":
        return bool(normalizer.get("lowercase", True))
    if normalizer.get("type") == "Sequence":
        return any(n.get("type") == "Lowercase" for n in normalizer.get("normalizers", []))
    return normalizer.get("type") == "Lowercase"


# ------------------------------------------------------------------------------------------------
# Import
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class BertCheckpoint:
    directory: Path
    hf_config: dict
    run_config: EncoderRunConfig  # the strata settings that hold it (model.*, data lengths)
    vocab: Vocabulary
    tokenizer_json: str  # strata-numbered
    params: dict[str, np.ndarray]  # strata paths -> arrays
    heads: str  # "mlm" or "pooler" (what besides the encoder was imported)


def resolve_source(source: str) -> Path:
    """A local checkpoint directory, or `hf:NAME` downloaded from the hub (for users online)."""
    if not source.startswith(HF_PREFIX):
        return Path(source).expanduser()
    name = source[len(HF_PREFIX) :]
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, allow_patterns=HUB_FILES))
    except Exception as error:  # offline, unknown repository, gated model: all one fix
        reason = (
            str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        )
        raise UserError(
            f"could not fetch {name} from the Hugging Face hub ({reason}); download it where the "
            f"hub is reachable (hf download {name} --local-dir DIR) and pass the directory: "
            "train.init_from=PATH"
        ) from None


def _check_architecture(hf_config: dict, where: str) -> None:
    model_type = hf_config.get("model_type", "")
    architectures = hf_config.get("architectures") or []
    named = f"model_type {model_type!r}" + (
        f" ({', '.join(architectures)})" if architectures else ""
    )
    if model_type != "bert" or any(not a.startswith("Bert") for a in architectures):
        raise UserError(f"{where}: {named} is not supported; only {SUPPORTED} checkpoints load")
    checks = [
        (
            hf_config.get("hidden_act", "gelu") in ("gelu", "gelu_python"),  # both exact erf
            f"hidden_act {hf_config.get('hidden_act')!r} (strata's BERT uses exact gelu)",
        ),
        (
            hf_config.get("position_embedding_type", "absolute") == "absolute",
            f"position_embedding_type {hf_config.get('position_embedding_type')!r} (only absolute)",
        ),
        (
            not hf_config.get("is_decoder", False),
            "is_decoder true (strata's encoder is bidirectional)",
        ),
        (
            hf_config.get("tie_word_embeddings", True),
            "tie_word_embeddings false (strata's MLM head is tied)",
        ),
    ]
    for ok, what in checks:
        if not ok:
            raise UserError(f"{where}: {what} is not supported; only {SUPPORTED} checkpoints load")


def _read_weights(directory: Path) -> dict[str, np.ndarray]:
    path = directory / WEIGHTS
    if not path.is_file():
        if (directory / "pytorch_model.bin").is_file():
            raise UserError(
                f"{directory} has only pytorch_model.bin, which needs torch to read; convert it "
                "once with transformers (AutoModelForMaskedLM.from_pretrained(DIR)"
                ".save_pretrained(DIR, safe_serialization=True)) to get model.safetensors"
            )
        raise UserError(
            f"{directory} has no {WEIGHTS} (from the hub: the repository may have only "
            "pytorch_model.bin; download it and convert it as for a local one); pass a Hugging "
            "Face BERT checkpoint directory"
        )
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except Exception as error:  # e.g. bfloat16 tensors, which numpy cannot hold
        raise UserError(
            f"{path} cannot be read as numpy ({error}); save it in float32 or float16"
        ) from None
    # Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
    renamed = {}
    for name, array in tensors.items():
        name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
        name = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)
        renamed[name] = np.asarray(array, np.float32)
    return renamed


def _hf_vocabulary(directory: Path) -> tuple[list[str], dict]:
    """(the checkpoint's tokens in id order, its tokenizer JSON or BERT's pipeline)."""
    tokenizer_path, vocab_path = directory / "tokenizer.json", directory / "vocab.txt"
    base = json.loads(tokenizer_path.read_text()) if tokenizer_path.is_file() else None
    if vocab_path.is_file():
        tokens = vocab_path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
    elif base is not None and base.get("model", {}).get("type") == "WordPiece":
        vocab = base["model"]["vocab"]
        tokens = sorted(vocab, key=vocab.get)
    else:
        raise UserError(f"{directory} has neither vocab.txt nor a WordPiece tokenizer.json")
    if base is None:
        settings_path = directory / "tokenizer_config.json"
        settings = json.loads(settings_path.read_text()) if settings_path.is_file() else {}
        base = _bert_tokenizer_dict(bool(settings.get("do_lower_case", True)))
    elif base.get("model", {}).get("type") != "WordPiece":
        raise UserError(f"{directory}/tokenizer.json is not WordPiece; only BERT tokenizers load")
    return tokens, base


def read_bert(source: str | Path) -> BertCheckpoint:
    """Read a BERT checkpoint directory (or `hf:NAME`) into strata-layout arrays."""
    directory = resolve_source(str(source))
    where = str(directory)
    if not (directory / "config.json").is_file():
        raise UserError(
            f"{where} has no config.json; pass a Hugging Face BERT checkpoint directory"
        )
    hf_config = json.loads((directory / "config.json").read_text())
    _check_architecture(hf_config, where)
    tensors = _read_weights(directory)
    hf_tokens, base = _hf_vocabulary(directory)
    vocab = Vocabulary.from_hf(hf_tokens, where)
    prefix = "bert." if any(k.startswith("bert.") for k in tensors) else ""
    heads = hf_config["num_attention_heads"]
    dim, layers = hf_config["hidden_size"], hf_config["num_hidden_layers"]
    vocab_rows = tensors.get(f"{prefix}embeddings.word_embeddings.weight")
    if vocab_rows is not None and vocab_rows.shape[0] != len(hf_tokens):
        raise UserError(
            f"{where}: the embeddings have {vocab_rows.shape[0]} rows but the vocabulary "
            f"{len(hf_tokens)} tokens; the tokenizer files belong to another checkpoint"
        )
    type_rows = hf_config.get("type_vocab_size", 2)
    names = [(s, prefix + b, layout) for s, b, layout in name_map(layers, type_rows > 0)]
    if "cls.predictions.transform.dense.weight" in tensors:
        names += MLM_NAMES
        kind = "mlm"
    elif f"{prefix}pooler.dense.weight" in tensors:
        names += [(s, prefix + b, layout) for s, b, layout in POOLER_NAMES]
        kind = "pooler"
    else:
        raise UserError(
            f"{where}: neither an MLM head (cls.predictions.*) nor a pooler; strata imports "
            "BertForMaskedLM, BertForPreTraining or BertModel with its pooler"
        )
    missing = [b for _, b, _ in names if b not in tensors]
    if missing:
        raise UserError(
            f"{where}: {WEIGHTS} lacks {', '.join(missing[:3])}; is it a BERT checkpoint?"
        )
    decoder = tensors.get("cls.predictions.decoder.weight")
    if decoder is not None and not np.array_equal(
        decoder, tensors[prefix + "embeddings.word_embeddings.weight"]
    ):
        raise UserError(
            f"{where}: the MLM decoder is not tied to the word embeddings; strata ties them"
        )
    params = {s: _to_strata(tensors[b], layout, heads, vocab.order) for s, b, layout in names}

    config = EncoderRunConfig(name=f"bert:{directory.name}")
    shape = {
        "dim": dim,
        "layers": layers,
        "heads": heads,
        "mlp_dim": hf_config["intermediate_size"],
    }
    size = next((name for name, s in SIZES.items() if s == shape), "base")
    config.model = dataclasses.replace(
        config.model,
        size=size,
        **(shape if SIZES[size] != shape else {}),
        max_len=hf_config["max_position_embeddings"],
        norm="post",
        token_types=type_rows,
        embed_norm=True,
        norm_eps=float(hf_config.get("layer_norm_eps", 1e-12)),
        dropout=float(hf_config.get("hidden_dropout_prob", 0.1)),
        attention_dropout=float(hf_config.get("attention_probs_dropout_prob", 0.1)),
        positions="learned",
        pooling="cls" if kind == "pooler" else config.model.pooling,
        projection="mlp" if kind == "pooler" else config.model.projection,
    )
    config.data.vocab_size = len(hf_tokens)
    # The run's sequence lengths must fit the position table (a run started from it sets its own).
    positions = hf_config["max_position_embeddings"]
    config.data.max_len = min(config.data.max_len, positions)
    config.data.sentence_len = min(config.data.sentence_len, positions)
    config.objective.kind = "mlm" if kind == "mlm" else "contrastive"
    return BertCheckpoint(
        directory, hf_config, config, vocab, strata_tokenizer_json(base, vocab), params, kind
    )


def write_run(checkpoint: BertCheckpoint, run_dir: str | Path) -> Path:
    """Write `checkpoint` as a strata run directory (config.json, tokenizer.json, the
    checkpoint's vocabulary order, checkpoints/0 with the parameters)."""
    run_dir = Path(run_dir)
    if (run_dir / "checkpoints").exists():
        raise UserError(f"{run_dir} already holds a run; choose a new directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    config = checkpoint.run_config
    vocab_size = len(checkpoint.vocab.hf_tokens)
    _, abstract = jax.eval_shape(
        lambda: nnx.split(text_model(config, vocab_size, rngs=nnx.Rngs(params=0)))
    )
    params = _fill(abstract, checkpoint.params)
    (run_dir / "tokenizer.json").write_text(checkpoint.tokenizer_json, encoding="utf-8")
    (run_dir / HF_VOCAB).write_text(
        "".join(f"{t}\n" for t in checkpoint.vocab.hf_tokens), encoding="utf-8"
    )
    (run_dir / "config.json").write_text(config_lib.to_json(config))
    info = {
        "imported_from": str(checkpoint.directory),
        "vocab_size": vocab_size,
        "heads": checkpoint.heads,
    }
    (run_dir / "run.json").write_text(json.dumps(info, indent=2))
    checkpointer = Checkpointer(run_dir / "checkpoints")
    try:
        checkpointer.save(0, {"params": params}, {"imported": True})
    finally:
        checkpointer.close()
    return run_dir


def import_bert(source: str | Path, run_dir: str | Path) -> Path:
    return write_run(read_bert(source), run_dir)


def _fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in ["config.json", WEIGHTS, "tokenizer.json", "vocab.txt", "tokenizer_config.json"]:
        path = directory / name
        digest.update(name.encode())
        if path.is_file():
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    digest.update(chunk)
    return digest.hexdigest()[:20]


def is_checkpoint(source: str) -> bool:
    """Whether `train.init_from` names a Hugging Face checkpoint rather than a strata run."""
    if source.startswith(HF_PREFIX):
        return True
    path = Path(source).expanduser()
    return (path / "config.json").is_file() and "model_type" in json.loads(
        (path / "config.json").read_text()
    )


def cached_run(source: str, cache_root: Path) -> Path:
    """The strata run imported from `source`, imported once per checkpoint content under
    cache_root/checkpoints/."""
    directory = resolve_source(source)
    if not (directory / "config.json").is_file():
        raise UserError(
            f"{directory} has no config.json; pass a Hugging Face BERT checkpoint directory"
        )
    run_dir = cache_root / "checkpoints" / _fingerprint(directory)
    if not (run_dir / "checkpoints").is_dir():
        tmp = run_dir.with_name(run_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        import_bert(directory, tmp)
        shutil.rmtree(run_dir, ignore_errors=True)
        tmp.rename(run_dir)
    return run_dir


MODEL_FROM_CHECKPOINT = (
    "size", "dim", "layers", "heads", "mlp_dim", "max_len", "norm", "token_types", "embed_norm",
    "norm_eps", "positions",
)  # fmt: skip


def apply_checkpoint_settings(
    config: EncoderRunConfig, run_dir: Path
) -> tuple[EncoderRunConfig, list[str]]:
    """`config` with the model shape and tokenizer of the imported checkpoint at `run_dir`
    (the run's pooling, projection, dropout and objective stay its own); returns it and the
    changed settings as "key: old -> new"."""
    theirs = config_lib.from_dict(
        EncoderRunConfig, json.loads((run_dir / "config.json").read_text())
    )
    model = dataclasses.replace(
        config.model, **{k: getattr(theirs.model, k) for k in MODEL_FROM_CHECKPOINT}
    )
    data = dataclasses.replace(
        config.data, tokenizer=str(run_dir / "tokenizer.json"), vocab_size=theirs.data.vocab_size
    )
    changes = [
        f"{section}.{f.name}: {getattr(old, f.name)!r} -> {getattr(new, f.name)!r}"
        for section, old, new in (("model", config.model, model), ("data", config.data, data))
        for f in dataclasses.fields(new)
        if getattr(old, f.name) != getattr(new, f.name)
    ]
    return dataclasses.replace(config, model=model, data=data), changes


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------


def export_bert(
    run_dir: str | Path, config: EncoderRunConfig, tokenizer: Any, state: Any, out_dir: str | Path
) -> Path:
    """Write a strata encoder run (its config, tokenizer and params state, as
    research/train/run_weights.py loads them) as a Hugging Face BERT directory: config.json,
    model.safetensors, tokenizer.json, vocab.txt, tokenizer_config.json, and the
    sentence-transformers modules with the run's pooling."""
    run_dir = Path(run_dir)
    model = config.model
    if model.norm != "post" or not model.embed_norm or model.positions != "learned":
        raise UserError(
            f"{run_dir} is a {model.norm}-norm encoder with {model.positions} positions"
            f"{'' if model.embed_norm else ' and no embedding LayerNorm'}; BERT is post-norm with "
            "learned positions and an embedding LayerNorm: export runs trained with "
            "model.norm=post, model.embed_norm=true, model.positions=learned (or started from BERT)"
        )
    settings = encoder_config(config, tokenizer.get_vocab_size())
    params = flat_params(state)
    strata_tokens = [tokenizer.id_to_token(i) for i in range(settings.vocab_size)]
    vocab = _export_vocabulary(run_dir, strata_tokens)
    tensors: dict[str, np.ndarray] = {}
    has_mlm = "lm_head/bias" in params
    prefix = "bert." if has_mlm else ""
    token_types = settings.token_types
    for strata, bert, layout in name_map(settings.layers, True):
        if strata == "encoder/type_embed/embedding" and not token_types:
            tensors[prefix + bert] = np.zeros((1, settings.dim), np.float32)  # adds nothing
            continue
        tensors[prefix + bert] = _to_bert(params[strata], layout, vocab.inverse)
    if has_mlm:
        for strata, bert, layout in MLM_NAMES:
            tensors[bert] = _to_bert(params[strata], layout, vocab.inverse)
    if "projection/out/kernel" in params and model.projection == "mlp":
        for strata, bert, layout in POOLER_NAMES:
            tensors[prefix + bert] = _to_bert(params[strata], layout, vocab.inverse)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.numpy import save_file

    save_file(
        {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()},
        str(out_dir / WEIGHTS),
        metadata={"format": "pt"},  # transformers refuses safetensors without it
    )
    hf_config = {
        "architectures": ["BertForMaskedLM" if has_mlm else "BertModel"],
        "model_type": "bert",
        "vocab_size": settings.vocab_size,
        "hidden_size": settings.dim,
        "num_hidden_layers": settings.layers,
        "num_attention_heads": settings.heads,
        "intermediate_size": settings.mlp_dim,
        "hidden_act": "gelu",
        "hidden_dropout_prob": settings.dropout,
        "attention_probs_dropout_prob": settings.attention_dropout,
        "max_position_embeddings": settings.max_len,
        "type_vocab_size": max(token_types, 1),
        "initializer_range": 0.02,
        "layer_norm_eps": settings.norm_eps,
        "pad_token_id": int(vocab.order[tok.PAD]),
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }
    (out_dir / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    _write_tokenizer(out_dir, tokenizer, vocab, settings.max_len)
    _write_sentence_transformers(out_dir, model.pooling, settings.dim, config.data.max_len)
    return out_dir


def _export_vocabulary(run_dir: Path, strata_tokens: list[str]) -> Vocabulary:
    """The checkpoint order recorded at import when it matches the tokenizer, else strata's
    own order (a run trained from scratch; [DOC] stays [DOC])."""
    recorded = run_dir / HF_VOCAB
    if recorded.is_file():
        hf_tokens = recorded.read_text(encoding="utf-8").split("\n")[:-1]
        vocab = Vocabulary.from_hf(hf_tokens, str(recorded))
        if vocab.strata_tokens == strata_tokens:
            return vocab
        print(
            f"warning: {recorded} does not match the run's tokenizer; exporting strata's order",
            file=sys.stderr,
        )
    identity = np.arange(len(strata_tokens))
    return Vocabulary(strata_tokens, "[DOC]", identity, identity)


def _write_tokenizer(out_dir: Path, tokenizer: Any, vocab: Vocabulary, max_len: int) -> None:
    base = json.loads(tokenizer.to_str())
    hf_id = {t: i for i, t in enumerate(vocab.hf_tokens)}
    specials = {t: hf_id[t] for t in BERT_SPECIALS}
    if vocab.doc_token == "[DOC]":
        specials["[DOC]"] = hf_id["[DOC]"]
    data = _with_vocab(base, vocab.hf_tokens, specials)
    cls, sep = ("[CLS]", hf_id["[CLS]"]), ("[SEP]", hf_id["[SEP]"])
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
        ],
        "pair": [
            {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
            {"Sequence": {"id": "B", "type_id": 1}},
            {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
        ],
        "special_tokens": {
            name: {"id": name, "ids": [i], "tokens": [name]} for name, i in (cls, sep)
        },
    }
    (out_dir / "tokenizer.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out_dir / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab.hf_tokens), encoding="utf-8")
    names = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    tokenizer_config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": _lowercase(base),
        "model_max_length": max_len,
        **names,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(names, indent=2) + "\n")


def _write_sentence_transformers(out_dir: Path, pooling: str, dim: int, max_len: int) -> None:
    """modules.json + 1_Pooling: sentence-transformers then pools as the run does (cls, mean or
    last token of the last layer; strata embeds below its projection head too)."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (out_dir / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out_dir / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_len, "do_lower_case": False}, indent=2) + "\n"
    )
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    pooling_config = {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": pooling == "last",
        "include_prompt": True,
    }
    (out_dir / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2) + "\n")
