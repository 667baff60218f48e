"""Rule-based sentence splitting for real prose: paragraphs, lines, abbreviations, quotes.

The encoder's neighbouring-sentence positives (cpt-text) are only as good as the boundaries:
a split after "Mr." pairs "Bennet sent them word" with half a sentence, and a heading glued to
the paragraph below it makes a positive of the paragraph's second sentence. The rules, in order:

1. Blank lines end a paragraph, and a paragraph always ends a sentence (a heading without a
   full stop is then a sentence of its own).
2. Inside a paragraph, a single line break ends a sentence when the line looks like a heading or
   a list item: short (at most HEADING_WORDS words), no closing punctuation, and the next line
   starts with a capital, a digit or a list marker. Other line breaks (hard-wrapped text) are
   spaces.
3. Inside a line, a boundary is a run of . ! ? or an ellipsis, then any closing quotes or
   brackets (they stay with the sentence they close), then whitespace, then something that can
   start a sentence: a capital, a digit, an opening quote or bracket. A lowercase word after the
   stop continues the sentence ('"Oh!" she said', "e.g. the", "1.5 m"), except in a document
   without any capital (a lowercased corpus), where any word may start one.
4. No boundary after an abbreviation that is rarely final (Mr., Dr., St., e.g., i.e., cf., vs.,
   No., Fig., months...), after an initial (H. D. Thoreau, J.R.R.), after a dotted acronym
   (U.S.), or after a list number at the start of a line ("1. Introduction", "iv. The").
   "etc." may end a sentence: it is split only before a capital, like any other word.

Decimals ("3.14") and versions ("v1.2.3") have no whitespace after the stop, so never split.
The measured bad-split rate on prose.jsonl, before and after these rules, is in BENCHMARKS.md
(benchmarks/sentence_splits.py).
"""

from __future__ import annotations

import re

# Part of the encoder cache's key: a change re-splits the corpus. 2: caseless documents split.
SPLITTER_VERSION = 2
HEADING_WORDS = 10

# Lowercased, without the final period. Titles and abbreviations that are followed by the word
# they qualify, so a capital after them does not start a sentence.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms messrs mme mlle dr prof rev hon st sr jr gen col capt lt sgt cpl maj adm cmdr gov
    sen rep pres supt insp fr br sra mt ft ave blvd rd
    e.g i.e cf vs viz al approx ca c.f esp incl fig figs eq eqs no nos vol vols pp ch sec secs
    art ed eds op ref refs
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    inc ltd co corp bros dept univ assn
    """.split()
)

_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
# A stop: .!? runs or an ellipsis, then closing quotes/brackets, then whitespace.
_CANDIDATE = re.compile(r"(?:[.!?]+|\u2026)[\"'\u201d\u2019)\]\u00bb]*(?=\s)")
# What may start a sentence after a stop (an opening quote/bracket may precede it).
_STARTS = re.compile(r"\s+[\"'\u201c\u2018(\[\u00ab]*[A-Z0-9\u00c0-\u00de]")
# A document without a single capital (a lowercased corpus) gives the capital no say: any word
# may start a sentence after a stop, and rule 4 alone keeps abbreviations whole.
_STARTS_CASELESS = re.compile(r"\s+[\"'\u201c\u2018(\[\u00ab]*\w")
_WORD_BEFORE = re.compile(r"(\S+)$")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)*[A-Z]$|^(?:[A-Za-z]\.)+[A-Za-z]$")
_LIST_MARKER = re.compile(r"^(?:\d{1,3}|[ivxlcIVXLC]{1,5}|[a-zA-Z])$")
_LINE_STARTS = re.compile(r"^\s*(?:[A-Z0-9\"'\u201c\u2018(\[]|[-*\u2022] )")
_LINE_ENDS = re.compile(r"[.!?:;,\u2026\"'\u201d\u2019)\]]\s*$")


def split_sentences(document: str) -> list[str]:
    """The sentences of `document`, stripped, in order; whitespace inside a sentence kept as
    written except that line breaks joined by rule 2 become spaces."""
    starts = _STARTS if any(c.isupper() for c in document) else _STARTS_CASELESS
    sentences = []
    for paragraph in _PARAGRAPHS.split(document):
        for line in _join_lines(paragraph):
            sentences.extend(_split_line(line, starts))
    return sentences


def _join_lines(paragraph: str) -> list[str]:
    """The paragraph's lines, hard-wrapped ones joined; a heading-like line stays alone."""
    lines = [line.strip() for line in paragraph.split("\n")]
    out: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if not line:
            continue
        current = f"{current} {line}" if current else line
        following = lines[i + 1] if i + 1 < len(lines) else ""
        heading = (
            len(line.split()) <= HEADING_WORDS
            and not _LINE_ENDS.search(line)
            and _LINE_STARTS.match(following) is not None
        )
        if not following or heading or _LINE_STARTS.match(following) and _ends_sentence(line):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


def _ends_sentence(line: str) -> bool:
    return bool(re.search(r"[.!?\u2026][\"'\u201d\u2019)\]\u00bb]*$", line))


def _split_line(line: str, starts: re.Pattern) -> list[str]:
    pieces, start = [], 0
    for match in _CANDIDATE.finditer(line):
        end = match.end()
        if not starts.match(line, end) or not _is_boundary(line, start, match):
            continue
        piece = line[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    rest = line[start:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _is_boundary(line: str, start: int, match: re.Match) -> bool:
    """Whether the stop `match` ends a sentence (rule 4); the next character already can start
    one."""
    stop = match.group()
    if not stop.startswith(".") or stop.startswith(".."):
        return True  # ! ? and ellipses: the capital after them is enough
    word = _WORD_BEFORE.search(line, start, match.start())
    if word is None:
        return True
    token = word.group(1).lstrip("\"'\u201c\u2018([\u00ab")
    if _INITIALS.match(token):  # H. / J.R. / U.S (the last period is the stop)
        return False
    if token.lower() in ABBREVIATIONS:
        return False
    if _LIST_MARKER.match(token) and not line[start : word.start()].strip():
        return False  # "1. Introduction": a list number opening the line or sentence
    return True
