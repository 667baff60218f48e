"""A WordPiece tokeniser trained on the training corpus with Hugging Face `tokenizers`.

Special tokens have fixed ids so that models, packing and checkpoints agree on them without
looking anything up: padding 0, unknown 1, classification 2, sentence separator 3, mask 4,
document boundary 5.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from research.errors import UserError

PAD, UNK, CLS, SEP, MASK, DOC = 0, 1, 2, 3, 4, 5
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DOC]"]
# Files kept beside a tokenizer.json wherever it is copied (data cache, run directory):
# an imported checkpoint's vocabulary in its original order (research/checkpoints/hf.py), so an
# export restores the checkpoint's ids.
TOKENIZER_COMPANIONS = ("hf_vocab.txt",)


def train_tokenizer(texts: Iterable[str], vocab_size: int, path: str | Path):
    """Train a lowercasing WordPiece tokeniser on `texts` and save it to `path` (JSON).

    The same texts give the same file in every process (see `_continuation_tokens`).
    """
    from tokenizers import trainers

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pipeline = _empty_tokenizer({})
    # The texts are streamed once, to a file the trainer reads, because the trainer needs the
    # continuation characters before it starts (the texts may be a one-pass generator).
    lines = path.with_name(path.name + ".training-text")
    try:
        with open(lines, "w", encoding="utf-8") as out:
            continuation = _write_training_lines(pipeline, texts, out)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            special_tokens=[*SPECIAL_TOKENS, *_continuation_tokens(continuation)],
            min_frequency=2,
            show_progress=False,
        )
        pipeline.train([str(lines)], trainer=trainer)
    finally:
        lines.unlink(missing_ok=True)
    # Renumber: specials first, then the learned tokens sorted, so the ids do not depend on the
    # trainer's internal order either.
    learned = sorted(t for t in pipeline.get_vocab() if t not in SPECIAL_TOKENS)
    tokenizer = _empty_tokenizer({t: i for i, t in enumerate([*SPECIAL_TOKENS, *learned])})
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise RuntimeError(f"special tokens got ids {ids}; expected 0..{len(ids) - 1}")
    tokenizer.save(str(path))
    return tokenizer


def _empty_tokenizer(vocab: dict[str, int]):
    """The lowercasing BERT-style pipeline around a WordPiece model with `vocab`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def _write_training_lines(pipeline, texts: Iterable[str], out) -> set[str]:
    """Write each text on one line of `out`; return the characters seen inside a word.

    A newline inside a text becomes a space: the pre-tokeniser splits on both alike.
    """
    continuation: set[str] = set()
    for text in texts:
        words = pipeline.pre_tokenizer.pre_tokenize_str(pipeline.normalizer.normalize_str(text))
        continuation.update("".join(word[1:] for word, _ in words))
        out.write(text.replace("\r", " ").replace("\n", " ") + "\n")
    return continuation


def _continuation_tokens(characters: set[str]) -> list[str]:
    """`##c` for each character seen inside a word, in sorted order.

    The WordPiece trainer creates these tokens while walking a hash map, so their ids, which
    break ties between equally frequent merges, change from process to process and the learned
    vocabulary with them (huggingface/tokenizers#1794). Handed to the trainer up front, after
    the special tokens, they get fixed ids and every tie is broken the same way.
    """
    return [f"##{c}" for c in sorted(characters)]


def load_tokenizer(path: str | Path):
    from tokenizers import Tokenizer

    if not Path(path).is_file():
        raise UserError(f"no tokeniser at {path}; the run or cache it belongs to is incomplete")
    tokenizer = Tokenizer.from_file(str(path))
    ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise UserError(f"{path} is not a strata tokeniser (special token ids {ids})")
    return tokenizer
