"""Phrase detection (research/data/phrases.py): the score, its edges, passes, the bounded table,
gensim equality, the token cache's key, and word2vec trained on joined tokens."""

import json
from collections import Counter

import numpy as np
import pytest

from research import config as config_lib
from research.config import Config, DataConfig
from research.data import corpus as corpus_lib
from research.data import phrases
from research.data.phrases import PhraseSettings, phrase_sentences
from research.errors import UserError
from research.eval import make_evaluator
from research.train import word2vec as loop

# Hand-made counts: a:6 b:6 ab:6; c:6 d:3 e:3 cd:3 ce:3; f:2 g:2 fg:2; eight one-word documents
# of z (no pairs). N (tokens) = 12 + 12 + 4 + 8 = 36.
HAND = [["a", "b"]] * 6 + [["c", "d"]] * 3 + [["c", "e"]] * 3 + [["f", "g"]] * 2 + [["z"]] * 8


def found(sentences, **settings) -> set[str]:
    _, result = phrase_sentences(sentences, PhraseSettings(**settings))
    return set(result.phrases())


def test_word2phrase_score_on_hand_made_counts_gives_the_exact_phrase_set():
    # (count(ab) - 2) / (count(a) count(b)) * 36: a_b 4/36*36 = 4, c_d = c_e = 1/18*36 = 2,
    # f_g (2 - 2) = 0.
    scores = phrases.score([6, 3, 2], [6, 6, 2], [6, 3, 2], 36, 2, "word2phrase")
    np.testing.assert_allclose(scores, [4.0, 2.0, 0.0], rtol=1e-6)
    assert found(HAND, min_count=2, threshold=1.5) == {"a_b", "c_d", "c_e"}
    assert found(HAND, min_count=2, threshold=3.0) == {"a_b"}
    assert found(HAND, min_count=2, threshold=4.5) == set()
    _, result = phrase_sentences(HAND, PhraseSettings(min_count=2, threshold=1.5))
    assert result.passes[0].stats["n"] == 36  # word2phrase's N: the tokens
    assert result.phrases()["a_b"] == pytest.approx(4.0, rel=1e-6)


def test_gensim_scoring_uses_unigram_plus_bigram_types():
    # 8 unigram types + 4 bigram types = 12 = N: a_b (6 - 2) / 36 * 12 = 1.33, c_d 1/18*12 = 0.67.
    _, result = phrase_sentences(HAND, PhraseSettings(min_count=2, threshold=1.0, scoring="gensim"))
    assert result.passes[0].stats["n"] == 12
    assert set(result.phrases()) == {"a_b"}
    assert result.phrases()["a_b"] == pytest.approx(4 / 36 * 12)


def test_threshold_is_strict_and_a_pair_needs_more_than_min_count_occurrences():
    at = float(phrases.score([6], [6], [6], 36, 2, "word2phrase")[0])  # a_b's score, float32
    assert "a_b" not in found(HAND, min_count=2, threshold=at)  # score > threshold, strictly
    assert "a_b" in found(HAND, min_count=2, threshold=float(np.nextafter(np.float32(at), 0)))
    # f g occurs twice: never a phrase with min_count 2 (score 0), one with min_count 1.
    assert "f_g" not in found(HAND, min_count=2, threshold=1e-6)
    assert "f_g" in found(HAND, min_count=1, threshold=1e-6)
    # word2phrase drops words under min_count from its vocabulary: a pair of them scores 0.
    assert phrases.score([5], [4], [9], 100, 5, "word2phrase")[0] == 0


def test_joining_is_greedy_left_to_right_and_stays_inside_documents():
    # Both a b and b c are phrases; "a b c" joins the first pair only, as word2phrase and gensim.
    sentences = [["a", "b", "c"]] * 5 + [["b", "c"]] * 5 + [["x"]] * 20
    out, result = phrase_sentences(sentences, PhraseSettings(min_count=1, threshold=1.0))
    assert {"a_b", "b_c"} <= set(result.phrases())
    assert out[0] == ["a_b", "c"] and out[5] == ["b_c"]
    # The last word of one document and the first of the next are never paired.
    across = [["p", "q"], ["r", "s"]] * 10
    assert "q_r" not in found(across, min_count=1, threshold=1e-6)


def test_two_passes_make_trigrams():
    rng = np.random.default_rng(0)
    filler = [f"w{i}" for i in range(50)]
    sentences = []
    for k in range(400):
        sentence = list(rng.choice(filler, size=8))
        if k % 5 == 0:  # 80 x new york, half of them new york times
            sentence[3:3] = ["new", "york", "times"] if k % 10 == 0 else ["new", "york"]
        sentences.append(sentence)
    one_pass = found(sentences, passes=1, min_count=5, threshold=10.0)
    out, result = phrase_sentences(sentences, PhraseSettings(passes=2, threshold=10.0))
    assert "new_york" in one_pass and "new_york_times" not in one_pass
    assert "new_york_times" in result.phrases(1)
    assert any("new_york_times" in s for s in out) and any("new_york" in s for s in out)
    assert [p.stats["pass"] for p in result.passes] == [1, 2]


# Letters only, so that the text normaliser reads a written corpus back as the same words.
FILLER = [f"q{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(200)]


def random_sentences(seed: int, count: int = 2000) -> list[list[str]]:
    """A Zipf-like corpus with planted multi-word names."""
    rng = np.random.default_rng(seed)
    probs = 1.0 / np.arange(1, 201)
    planted = [["new", "york"], ["new", "york", "times"], ["los", "angeles"], ["san", "jose", "ca"]]
    sentences = []
    for _ in range(count):
        ids = rng.choice(200, size=rng.integers(3, 20), p=probs / probs.sum())
        sentence = [FILLER[i] for i in ids]
        for _ in range(rng.integers(0, 3)):
            at = int(rng.integers(0, len(sentence)))
            sentence[at:at] = planted[rng.integers(0, len(planted))]
        sentences.append(sentence)
    return sentences


def test_small_chunks_and_a_capped_table_match_the_unbounded_result():
    settings = PhraseSettings(passes=2, min_count=2, threshold=0.5, scoring="gensim")
    short = random_sentences(1, count=200)
    reference, _ = phrase_sentences(short, settings)
    for chunk in (1, 2, 7, 1000):  # chunk ends fall inside documents and inside phrases
        out, _ = phrase_sentences(short, settings, chunk=chunk)
        assert out == reference, chunk
    sentences = random_sentences(1)
    reference, unbounded = phrase_sentences(sentences, settings)
    bigram_types = unbounded.passes[0].stats["bigram_types"]
    most = max(bigram_types, unbounded.passes[1].stats["bigram_types"])
    exact_cap = PhraseSettings(
        passes=2, min_count=2, threshold=0.5, scoring="gensim", max_bigrams=most
    )
    out, capped = phrase_sentences(sentences, exact_cap, chunk=500)
    assert out == reference and capped.passes[0].stats["pruned_below"] == 0
    # Under the cap, rare pairs are pruned: counts only shrink (so phrases are a subset, all
    # still scoring above the threshold) and the frequent planted names survive.
    small = PhraseSettings(passes=1, min_count=2, threshold=0.5, max_bigrams=bigram_types // 4)
    _, pruned = phrase_sentences(sentences, small, chunk=500)
    full = found(sentences, passes=1, min_count=2, threshold=0.5)
    assert pruned.passes[0].stats["pruned_below"] >= 1
    assert pruned.passes[0].stats["bigram_types"] <= bigram_types // 4
    assert set(pruned.phrases()) <= full and {"new_york", "los_angeles"} <= set(pruned.phrases())


@pytest.mark.parametrize("min_count,threshold", [(1, 0.5), (3, 1.0), (5, 10.0)])
def test_two_passes_equal_gensim_phrases_applied_to_its_own_output(min_count, threshold):
    from gensim.models.phrases import Phrases

    sentences = random_sentences(2, count=1000)
    ours, result = phrase_sentences(
        sentences,
        PhraseSettings(passes=2, min_count=min_count, threshold=threshold, scoring="gensim"),
    )
    first = Phrases(sentences, min_count=min_count, threshold=threshold)
    once = [first[s] for s in sentences]
    second = Phrases(once, min_count=min_count, threshold=threshold)
    twice = [second[s] for s in once]
    assert ours == twice
    exported = first.export_phrases()
    assert result.phrases(0) == pytest.approx(exported)
    assert result.passes[0].stats["n"] == len(first.vocab)


def word2phrase_c(sentences, min_count: int, threshold: float) -> list[list[str]]:
    """word2phrase.c's TrainModel loop transcribed (float32 score, `pb = 0` after a join), with
    pairs counted inside sentences only (the documented difference)."""
    counts: Counter = Counter()
    for s in sentences:
        counts.update(s)
        counts.update(f"{a}_{b}" for a, b in zip(s, s[1:], strict=False))
    vocab = {w: c for w, c in counts.items() if c >= min_count}  # SortVocab drops the rest
    train_words, f32 = sum(len(s) for s in sentences), np.float32
    out = []
    for sentence in sentences:
        joined: list[str] = []
        pa = 0
        last = None
        for word in sentence:
            pb = vocab.get(word, 0)
            pab = vocab.get(f"{last}_{word}", 0)
            oov = word not in vocab or last not in vocab or pab == 0
            oov = oov or pa < min_count or pb < min_count
            score = f32(0) if oov else f32(pab - min_count) / f32(pa) / f32(pb) * f32(train_words)
            if score > f32(threshold):
                joined[-1] += "_" + word
                pb = 0
            else:
                joined.append(word)
            pa, last = pb, word
        out.append(joined)
    return out


@pytest.mark.parametrize("min_count,threshold", [(1, 5.0), (3, 10.0), (5, 15.0)])
def test_one_pass_equals_word2phrase_c(min_count, threshold):
    sentences = random_sentences(5, count=1000)
    ours, _ = phrase_sentences(
        sentences, PhraseSettings(passes=1, min_count=min_count, threshold=threshold)
    )
    reference = word2phrase_c(sentences, min_count, threshold)
    assert ours == reference
    assert sum(len(s) for s in ours) < sum(len(s) for s in sentences)  # something was joined


def test_bad_phrase_settings_are_one_line_user_errors():
    for kwargs, message in [
        ({"threshold": 0.0}, "data.phrase_threshold=0.0 must be positive"),
        ({"min_count": 0}, "data.phrase_min_count=0 must be at least 1"),
        ({"passes": -1}, "data.phrases=-1 must be >= 0"),
        ({"max_bigrams": 0}, "data.phrase_max_bigrams=0 must be at least 1"),
    ]:
        with pytest.raises(UserError, match=message):
            PhraseSettings(**kwargs)
    with pytest.raises(UserError, match="expected one of word2phrase, gensim"):
        config_lib.apply_overrides(Config(), ["data.phrase_scoring=npmi"])


def write_corpus(path, sentences) -> str:
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n")
    return str(path)


def test_the_token_cache_is_keyed_by_the_phrase_settings(tmp_path):
    source = write_corpus(tmp_path / "c.txt", random_sentences(3, count=300))

    def cache(**overrides):
        config = DataConfig(source=source, cache_dir=str(tmp_path / "cache"), min_count=1)
        for key, value in overrides.items():
            setattr(config, key, value)
        return corpus_lib.prepare_corpus(config, progress=False)

    plain, off = cache(), cache(phrases=0, phrase_threshold=1.0)  # off: settings unused
    assert plain.path == off.path and "phrases" not in plain.meta
    two = cache(phrases=2, phrase_threshold=1.0, phrase_min_count=2)
    variants = [
        cache(phrases=1, phrase_threshold=1.0, phrase_min_count=2),
        cache(phrases=2, phrase_threshold=2.0, phrase_min_count=2),
        cache(phrases=2, phrase_threshold=1.0, phrase_min_count=3),
        cache(phrases=2, phrase_threshold=1.0, phrase_min_count=2, phrase_scoring="gensim"),
        cache(phrases=2, phrase_threshold=1.0, phrase_min_count=2, phrase_max_bigrams=100),
    ]
    assert len({plain.path, two.path, *(v.path for v in variants)}) == 7
    assert cache(phrases=2, phrase_threshold=1.0, phrase_min_count=2).path == two.path
    # The cache holds the same joined tokens as the in-memory path.
    expected, _ = phrase_sentences(
        random_sentences(3, count=300), PhraseSettings(passes=2, min_count=2, threshold=1.0)
    )
    starts = two.doc_offsets
    rebuilt = [
        [two.words[i] for i in two.tokens[s:e]]
        for s, e in zip(starts[:-1], starts[1:], strict=True)
    ]
    assert rebuilt == expected
    assert [p["pass"] for p in two.meta["phrase_passes"]] == [1, 2]
    assert two.meta["phrases_in_vocab"] == sum("_" in w for w in two.words) > 0


def test_word2vec_trains_on_phrase_tokens_and_scores_a_phrase_analogy_file(tmp_path, capsys):
    source = write_corpus(tmp_path / "c.txt", random_sentences(4, count=1500))
    questions = tmp_path / "questions-phrases.txt"
    questions.write_text(
        ": newspapers\nnew_york new_york_times los_angeles los_angeles_times\n"
        ": cities\nnew_york los_angeles san_jose_ca new_york\n"
        "los_angeles new_york_times new_york san_jose_ca\n"
    )
    config = Config()
    overrides = {
        "data.source": source,
        "data.min_count": 2,
        "data.phrases": 2,
        "data.phrase_threshold": 10.0,
        "model.dim": 16,
        "train.epochs": 1,
        "train.batch_size": 256,
        "train.steps_per_dispatch": 4,
        "train.log_every": 8,
        "log.progress": False,
        "evals.phrases.kind": "analogy",
        "evals.phrases.path": str(questions),
    }
    config_lib.apply_overrides(config, [f"{k}={v}" for k, v in overrides.items()])
    results = loop.train_and_evaluate(config, tmp_path / "run")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    passes = run["corpus"]["phrase_passes"]
    assert [p["pass"] for p in passes] == [1, 2] and passes[0]["phrases"] > 0
    assert (
        "phrases (min_count 5, threshold 10, word2phrase scoring): pass 1:"
        in capsys.readouterr().out
    )
    vocabulary = (tmp_path / "run" / "vectors.txt").read_text().split("\n")
    words = {line.split(" ", 1)[0] for line in vocabulary[1:] if line}
    assert {"new_york", "new_york_times", "los_angeles", "san_jose_ca"} <= words
    # 2 of the 3 questions have all four words (los_angeles_times never occurs).
    assert results["phrases/questions_total"] == 3 and results["phrases/coverage"] == 2 / 3
    assert "phrases" in (tmp_path / "run" / "results.md").read_text()


def test_the_analogy_reader_takes_the_phrase_file_layout(tmp_path):
    path = tmp_path / "questions-phrases.txt"
    path.write_text(
        ": newspapers\nNew_York New_York_Times Baltimore Baltimore_Sun\n"
        ": ice_hockey\nBoston Boston_Bruins Montreal Montreal_Canadiens\n"
    )
    evaluator = make_evaluator("analogy", name="phrases", path=str(path))
    assert evaluator.questions.sections == ["newspapers", "ice_hockey"]
    assert evaluator.questions.words[0] == (
        "new_york",
        "new_york_times",
        "baltimore",
        "baltimore_sun",
    )


def test_a_run_saved_before_the_phrase_settings_existed_still_resumes(tmp_path):
    from research.train.workdir import check_resume_config

    saved = config_lib.to_dict(Config())
    for key in [k for k in saved["data"] if k.startswith("phrase")]:
        del saved["data"][key]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    (tmp_path / "checkpoints").mkdir()
    assert check_resume_config(tmp_path, Config()) == []
    # Turning the new setting on is a change like any other.
    turned_on = Config()
    turned_on.data.phrases = 2
    with pytest.raises(UserError, match="data.phrases: None -> 2"):
        check_resume_config(tmp_path, turned_on)
