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
    """Train a lowercasing WordPiece tokeniser on `texts` and save it to `path` (JSON)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        min_frequency=2,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # The trainer breaks frequency ties in hash order, so the same corpus can get permuted ids in
    # another process. Renumber: specials first, then the learned tokens sorted, so a corpus
    # always gives the same ids (and a seeded run the same numbers on any machine).
    learned = sorted(t for t in tokenizer.get_vocab() if t not in SPECIAL_TOKENS)
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *learned])}
    tokenizer.model = models.WordPiece(vocab, unk_token="[UNK]")
    ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise RuntimeError(f"special tokens got ids {ids}; expected 0..{len(ids) - 1}")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return tokenizer


def load_tokenizer(path: str | Path):
    from tokenizers import Tokenizer

    if not Path(path).is_file():
        raise UserError(f"no tokeniser at {path}; the run or cache it belongs to is incomplete")
    tokenizer = Tokenizer.from_file(str(path))
    ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    if ids != list(range(len(SPECIAL_TOKENS))):
        raise UserError(f"{path} is not a strata tokeniser (special token ids {ids})")
    return tokenizer
