"""Write tests/data/tiny_bert/: a tiny randomly initialised BERT made with transformers, and its
reference outputs, for tests/test_bert_checkpoints.py (which reads them without torch).

    python tests/data/make_tiny_bert.py        # needs torch and transformers; not run by tests

The vocabulary mimics BERT's layout ([PAD] 0, [unusedN] next, then [UNK] [CLS] [SEP] [MASK],
then word pieces), so the import's renumbering to strata's fixed special ids is exercised.
Every parameter, LayerNorms and biases included, is drawn at random (not BERT's init of ones
and zeros), so a swapped scale/bias or a transposed kernel cannot go unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from transformers import BertConfig, BertForMaskedLM, BertTokenizer

OUT = Path(__file__).parent / "tiny_bert"
SENTENCES = [
    "the bank of the river was quiet.",
    "a loan from the bank, please!",
    "unbelievable stories travel far",
    "the cat sat",
]
WORDS = (
    "the a of from was quiet loan bank river please cat sat on mat dog ran far travel stories "
    "story believe un ##believ ##able ##s ##ed ##ing ##er ##ly to and in is it for with as"
).split()


def vocabulary() -> list[str]:
    unused = [f"[unused{i}]" for i in range(4)]
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = [f"##{c}" for c in chars]
    punctuation = list(".,!?'-")
    tokens = ["[PAD]", *unused, "[UNK]", "[CLS]", "[SEP]", "[MASK]", *punctuation, *chars]
    return list(dict.fromkeys([*tokens, *pieces, *WORDS]))  # in order, without repeats


def main() -> None:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    tokens = vocabulary()
    # transformers 5 takes the vocabulary as a mapping (a vocab_file keyword is ignored).
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(tokens)}, do_lower_case=True)
    config = BertConfig(
        vocab_size=len(vocabulary()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
    )
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm.weight" in name:
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn_like(param))
    model.save_pretrained(OUT, safe_serialization=True)
    tokenizer.save_pretrained(OUT)
    # Hub BERT checkpoints ship vocab.txt beside tokenizer.json; transformers 5 writes only the
    # latter, so write it as they have it (one token per line, in id order).
    (OUT / "vocab.txt").write_text("".join(f"{t}\n" for t in tokens))
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    np.savez(
        OUT / "reference.npz",
        input_ids=batch["input_ids"].numpy(),
        attention_mask=batch["attention_mask"].numpy(),
        hidden_states=np.stack([h.numpy() for h in out.hidden_states]),
        logits=out.logits.numpy(),
    )
    (OUT / "sentences.json").write_text(json.dumps(SENTENCES, indent=1) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(OUT.iterdir())}
    print(json.dumps(sizes, indent=1), f"total {sum(sizes.values()):,} bytes")


if __name__ == "__main__":
    main()
