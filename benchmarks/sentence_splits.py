"""How often the encoder's sentence splitter puts a boundary where there is none, on real prose.

    python benchmarks/sentence_splits.py --corpus ~/.cache/strata-bench-corpus/prose.jsonl

Compares the splitter before this benchmark existed (the regex `(?<=[.!?])\\s+`, kept here as
`old`) with research/data/sentences.py (`new`) on every document of a JSON-lines corpus
({"text": ...}), in two ways:

* automatic checks over every boundary (detectable errors only, so a lower bound):
    abbreviation  the left sentence ends with a title/abbreviation or an initial (Mr., e.g., H.)
    lowercase     the right sentence starts with a lowercase letter (a split mid-sentence),
    closer        the right sentence starts with a closing quote or bracket (left behind; a
                  straight quote counts when a space or nothing follows it)
  (a boundary at a line break is a paragraph's end, correct by definition, and never flagged)
  and over every sentence, for missed boundaries:
    paragraph     a sentence that runs across a blank line (a paragraph or heading glued on)
    missed stop   "word. Word" inside a sentence after a word that is not an abbreviation
* a judged sample: `--judge N` boundaries per splitter drawn with `--seed`, each judged by a
  person as a true sentence boundary (ok) or not (bad); the verdicts are kept in
  benchmarks/data/sentence_split_judgements.tsv by boundary id (splitter, document, sentence
  index), never the corpus text. `--show` prints the sample's boundaries for judging.

The report (markdown) goes to stdout and, with --write, into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import machine, write_section  # noqa: E402
from research.data.sentences import ABBREVIATIONS, split_sentences  # noqa: E402
from research.io.writers import git_commit  # noqa: E402

JUDGEMENTS = ROOT / "benchmarks" / "data" / "sentence_split_judgements.tsv"
_OLD = re.compile(r"(?<=[.!?])\s+")


def old_split(document: str) -> list[str]:
    return [s.strip() for s in _OLD.split(document) if s.strip()]


SPLITTERS = {"old": old_split, "new": split_sentences}
_LAST_WORD = re.compile(r"(\S+)\.[\"'\u201d\u2019)\]]*$")
_INITIAL = re.compile(r"^(?:[A-Za-z]\.)*[A-Za-z]$")
_ROMAN = re.compile(r"^[IVXLC]+$|^[ivxlc]+$")  # list numbers: "II. Notes"
_MISSED = re.compile(r"([A-Za-z]{2,})[.!?][\"'\u201d\u2019)\]]*\s+[\"'\u201c]?[A-Z][a-z]")


def abbreviation_split(left: str) -> bool:
    match = _LAST_WORD.search(left)
    if match is None:
        return False
    word = match.group(1).lstrip("\"'\u201c\u2018([")
    return word.lower() in ABBREVIATIONS or bool(_INITIAL.match(word) and word[-1].isupper())


def boundary_checks(left: str, right: str, at_line_break: bool) -> dict[str, bool]:
    """A boundary at a line break (a paragraph's end) is never flagged: paragraphs may start in
    lowercase or end in "e.g." where the corpus lost a code block, and are sentence ends."""
    if at_line_break:
        return {"abbreviation": False, "lowercase": False, "closer": False}
    closer = right[:1] in "\u201d\u2019)]" or (right[:1] in "\"'" and right[1:2] in ("", " "))
    return {
        "abbreviation": abbreviation_split(left),
        "lowercase": right[:1].islower(),
        "closer": closer,
    }


def sentence_checks(sentence: str) -> dict[str, bool]:
    missed = any(
        m.group(1).lower() not in ABBREVIATIONS and not _ROMAN.match(m.group(1))
        for m in _MISSED.finditer(sentence)
    )
    return {
        "paragraph": "\n\n" in sentence or bool(re.search(r"\n\s*\n", sentence)),
        "missed stop": missed,
    }


def read_documents(path: Path) -> list[str]:
    with path.open() as lines:
        return [json.loads(line).get("text") or "" for line in lines]


def measure(documents: list[str], split) -> dict:
    started = time.time()
    splits = [split(d) for d in documents]
    seconds = time.time() - started
    boundary_flags = {"abbreviation": 0, "lowercase": 0, "closer": 0, "any": 0}
    sentence_flags = {"paragraph": 0, "missed stop": 0}
    boundaries = sentences = 0
    for document, sents in zip(documents, splits, strict=True):
        sentences += len(sents)
        for sentence in sents:
            for key, bad in sentence_checks(sentence).items():
                sentence_flags[key] += bad
        for left, right in zip(sents, sents[1:], strict=False):
            boundaries += 1
            flags = boundary_checks(left, right, "\n" + right[:40] in document)
            for key, bad in flags.items():
                boundary_flags[key] += bad
            boundary_flags["any"] += any(flags.values())
    return {
        "splits": splits,
        "seconds": seconds,
        "sentences": sentences,
        "boundaries": boundaries,
        "boundary_flags": boundary_flags,
        "sentence_flags": sentence_flags,
    }


def sample_ids(splits: list[list[str]], n: int, seed: int) -> list[tuple[int, int]]:
    """n boundaries (document, index of the sentence after the boundary), uniform over all."""
    import numpy as np

    ids = [(d, i) for d, sents in enumerate(splits) for i in range(1, len(sents))]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(ids), size=min(n, len(ids)), replace=False)
    return sorted(ids[k] for k in picked)


def read_judgements(path: Path) -> dict[tuple[str, int, int], str]:
    verdicts = {}
    if not path.exists():
        return verdicts
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("splitter\t"):
            continue
        splitter, doc, index, verdict = line.split("\t")[:4]
        verdicts[(splitter, int(doc), int(index))] = verdict
    return verdicts


def wilson(bad: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    z, p = 1.96, bad / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge", type=int, default=100, help="judged boundaries per splitter")
    parser.add_argument("--show", action="store_true", help="print the sample for judging")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args()
    documents = read_documents(args.corpus)
    verdicts = read_judgements(JUDGEMENTS)
    rows, judged_rows = [], []
    for name, split in SPLITTERS.items():
        result = measure(documents, split)
        ids = sample_ids(result["splits"], args.judge, args.seed)
        if args.show:
            for doc, index in ids:
                left, right = result["splits"][doc][index - 1], result["splits"][doc][index]
                print(f"{name}\t{doc}\t{index}\t{left[-90:]!r}  ||  {right[:90]!r}")
            continue
        b, s = result["boundaries"], result["sentences"]
        flags, sflags = result["boundary_flags"], result["sentence_flags"]
        rows.append(
            f"| {name} | {s:,} | {b:,} | "
            + " | ".join(f"{flags[k]:,} ({100 * flags[k] / b:.2f} %)" for k in flags)
            + " | "
            + " | ".join(f"{sflags[k]:,} ({100 * sflags[k] / s:.2f} %)" for k in sflags)
            + f" | {result['seconds']:.1f} |"
        )
        judged = [verdicts.get((name, d, i)) for d, i in ids]
        done = [v for v in judged if v in ("ok", "bad")]
        bad = sum(v == "bad" for v in done)
        low, high = wilson(bad, len(done))
        judged_rows.append(
            f"| {name} | {len(done)} of {len(ids)} | {bad} | "
            f"{100 * bad / max(len(done), 1):.1f} % | {100 * low:.1f}–{100 * high:.1f} % |"
        )
    if args.show:
        return 0
    body = (
        f"Corpus: `{args.corpus.name}`, {len(documents):,} documents; sample seed {args.seed}; "
        f"commit {git_commit()}; {machine()}; {datetime.date.today().isoformat()}.\n\n"
        "Automatic checks (detectable errors only; boundary checks per boundary, the last two "
        "per sentence):\n\n"
        "| splitter | sentences | boundaries | after abbreviation/initial | lowercase start | "
        "closing quote/bracket start | any boundary check | blank line inside | missed stop "
        "inside | seconds |\n|---|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nJudged sample (boundaries drawn uniformly; verdicts in "
        "`benchmarks/data/sentence_split_judgements.tsv`; 95 % Wilson interval):\n\n"
        "| splitter | judged | bad | bad-split rate | 95 % interval |\n|---|---|---|---|---|\n"
        + "\n".join(judged_rows)
        + "\n\nCommand: `python benchmarks/sentence_splits.py --corpus "
        f"~/.cache/strata-bench-corpus/{args.corpus.name} --judge {args.judge} --seed "
        f"{args.seed} --write`\n"
    )
    print(body)
    if args.write:
        write_section(
            ROOT / "BENCHMARKS.md",
            "sentence splits",
            "### sentence splitting on prose.jsonl\n\n" + body,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
