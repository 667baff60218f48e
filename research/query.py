"""Ask a trained word model: nearest neighbours of a word, or a vector-arithmetic analogy.

    python -m research.query RUN_DIR king
    python -m research.query RUN_DIR "king - man + woman" --topn 5 --restrict-vocab 30000

RUN_DIR is a run's --workdir; the vectors come from RUN_DIR/vectors.txt (word2vec text format).
An expression is words joined by + and -, the first word counting as +; "king - man + woman"
searches near unit(king) - unit(man) + unit(woman) and never returns the query words (3CosAdd,
as gensim's most_similar). A lone hyphenated vocabulary word such as "x-ray" is a word, and inside
spaced expressions ("x-ray - bone") hyphens within a word are kept.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from research.cli import positive_int
from research.errors import UserError
from research.eval.vectors import WordVectors

TRAIN_HINT = (
    "train a word model first with: python launch.py experiments/word2vec.py --workdir RUN_DIR"
)
EXPRESSION_HELP = "expected a word or an expression like 'king - man + woman'"


def load_run_vectors(run_dir: str | Path) -> WordVectors:
    """RUN_DIR/vectors.txt as WordVectors; a UserError says how to get one when it is missing."""
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise UserError(f"run directory {run_dir} does not exist; {TRAIN_HINT}")
    path = run_dir / "vectors.txt"
    if not path.is_file():
        raise UserError(
            f"{run_dir} has no vectors.txt (only word models such as word2vec write one); "
            f"{TRAIN_HINT}"
        )
    return WordVectors.load_word2vec_text(path)


def parse_terms(text: str) -> list[tuple[str, str]]:
    """Split "a - b + c" into [("+", "a"), ("-", "b"), ("+", "c")]; the first word is positive.

    With spaces in the query, only a + or - standing alone or at a word's edge is an operator,
    so hyphenated words survive; without spaces ("king-man+woman") every + and - is one.
    """
    text = text.strip()
    if not text:
        raise UserError(f"empty query; {EXPRESSION_HELP}")
    if re.search(r"\s", text):
        spaced = re.sub(r"(^|\s)([+-])", r"\1\2 ", text)  # "-man" -> "- man"
        spaced = re.sub(r"([+-])(\s|$)", r" \1\2", spaced)  # "king-" -> "king -"
        tokens = spaced.split()
    else:
        tokens = re.split(r"([+-])", text)  # an empty word marks a dangling operator
    words, signs = tokens[0::2], tokens[1::2]
    bad_word = next((w for w in words if w in ("", "+", "-")), None)
    bad_sign = next((s for s in signs if s not in ("+", "-")), None)
    if bad_word is not None or bad_sign is not None or len(words) != len(signs) + 1:
        raise UserError(f"malformed query {text!r}: {EXPRESSION_HELP} (first term positive)")
    return list(zip(["+", *signs], words, strict=True))


def parse_expression(text: str) -> tuple[list[str], list[str]]:
    """(positive words, negative words) of an expression such as "king - man + woman"."""
    terms = parse_terms(text)
    return [w for s, w in terms if s == "+"], [w for s, w in terms if s == "-"]


def answer(
    vectors: WordVectors, query: str, topn: int = 10, restrict_vocab: int | None = None
) -> tuple[str, list[tuple[str, float]]]:
    """(heading, [(word, cosine), ...]) for a single word or an expression."""
    stripped = query.strip()
    # A whole query that is itself a word ("x-ray") is never read as an expression.
    if stripped and not re.search(r"\s", stripped) and vectors.lookup(stripped) is not None:
        terms = [("+", stripped)]
    else:
        terms = parse_terms(query)
    resolved = {w: vectors.lookup(w) for _, w in terms}  # dicts keep the query's word order
    missing = [w for w, row in resolved.items() if row is None]
    if missing:
        raise UserError(
            f"not in the vocabulary ({len(vectors)} words): {', '.join(missing)}; try another "
            f"word, or retrain with a lower min_count so rarer words get vectors"
        )
    spell = {w: vectors.words[row] for w, row in resolved.items() if row is not None}
    pos = [spell[w] for s, w in terms if s == "+"]
    neg = [spell[w] for s, w in terms if s == "-"]
    result = vectors.most_similar(pos, neg, topn=topn, restrict_vocab=restrict_vocab)
    searched = len(vectors) if restrict_vocab is None else min(restrict_vocab, len(vectors))
    scope = f"searching the {searched} most frequent of {len(vectors)} words"
    if not neg and len(pos) == 1:
        heading = f"nearest neighbours of {pos[0]!r} ({scope})"
    else:
        expr = " ".join(f"{s} {spell[w]}" for s, w in terms)[2:]  # as typed, minus the first "+"
        heading = f"{expr}  (3CosAdd, query words excluded; {scope})"
    return heading, result


def format_table(heading: str, rows: Sequence[tuple[str, float]]) -> str:
    width = max([len("word")] + [len(w) for w, _ in rows])
    lines = [heading, f"{'rank':>4}  {'word':<{width}}  cosine"]
    lines += [f"{i:>4}  {w:<{width}}  {cos:.4f}" for i, (w, cos) in enumerate(rows, start=1)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m research.query",
        description="Nearest neighbours or analogies from a run's vectors.txt.",
    )
    parser.add_argument("run_dir", help="the run's --workdir (holds vectors.txt)")
    parser.add_argument("query", help="a word, or an expression such as 'king - man + woman'")
    parser.add_argument("--topn", type=positive_int, default=10, help="answers to show")
    parser.add_argument(
        "--restrict-vocab",
        type=positive_int,
        default=None,
        help="search only the N most frequent words (default: all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        vectors = load_run_vectors(args.run_dir)
        heading, rows = answer(vectors, args.query, args.topn, args.restrict_vocab)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(heading, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
