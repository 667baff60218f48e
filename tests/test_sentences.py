"""Sentence splitting of real prose (research/data/sentences.py); measured on prose.jsonl by
benchmarks/sentence_splits.py."""

import pytest

from research.data.sentences import split_sentences


@pytest.mark.parametrize(
    "text, expected",
    [
        (  # titles and closing quotes
            'Mr. Bennet sent word. "Oh!" she said. "Fine." He left.',
            ["Mr. Bennet sent word.", '"Oh!" she said.', '"Fine."', "He left."],
        ),
        (  # initials, dotted acronyms, e.g., etc. before a capital
            "They met J.R.R. Tolkien in the U.S. Army, e.g. Dr. Smith, etc. And so on.",
            ["They met J.R.R. Tolkien in the U.S. Army, e.g. Dr. Smith, etc.", "And so on."],
        ),
        (  # an attribution with initials stays with its quote
            "The day advanced. -- H. D. Thoreau",
            ["The day advanced. -- H. D. Thoreau"],
        ),
        (  # decimals, versions, ellipses
            "It costs 3.14 now. Version 1.2.3 is out... Then it broke. Wait... what?",
            ["It costs 3.14 now.", "Version 1.2.3 is out...", "Then it broke.", "Wait... what?"],
        ),
        (  # closing brackets and curly quotes stay with their sentence
            "He said: \u201cStop.\u201d Then (an aside.) Back.",
            ["He said: \u201cStop.\u201d", "Then (an aside.)", "Back."],
        ),
        (  # paragraphs and headings without a full stop
            "The Journalling API\n\nOverview\n\nThe layer is easy to use. You call it.",
            ["The Journalling API", "Overview", "The layer is easy to use.", "You call it."],
        ),
        (  # list numbers and heading lines; hard-wrapped lines are joined
            "1. Introduction\n2. Methods\nThe text starts and\nwraps here. Next one.",
            ["1. Introduction", "2. Methods", "The text starts and wraps here.", "Next one."],
        ),
        ("Chapter 3 verse 16. For God so loved", ["Chapter 3 verse 16.", "For God so loved"]),
        (  # a caseless (lowercased) document: any word may start a sentence, abbreviations hold
            "mr. smith went home. then e.g. he slept! it rained",
            ["mr. smith went home.", "then e.g. he slept!", "it rained"],
        ),
        ("", []),
    ],
)
def test_sentence_boundaries(text, expected):
    assert split_sentences(text) == expected
