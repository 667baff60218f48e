"""Evaluator suites as `evals` mappings ({name: {kind, **options}}): each data source's default
suite, and the named suites a config selects with `--set evals=NAME`.

A run evaluates its data source's default suite (unless eval.default_suite=false) plus the
config's own `evals` entries (an entry of the same name replaces the suite's; an entry without a
kind changes the options of the suite's evaluator of that name). The synthetic world's suite
reads the gold files it generated beside its corpus; other sources have no default files.

Named suites (`resolve_evals` expands them) read real benchmarks from the evaluation data
directory: `eval.data_dir`, else $STRATA_EVAL_DATA, else ../shared/data beside the repository
(the layout of ../shared/data/SOURCES.md). Their paths are written `data:RELATIVE/PATH`; every
file can be replaced by path, e.g. `--set evals.stsb_test.path=my-sts-test.csv`.

`real`, for word vectors: WS-353 and its similarity / relatedness splits, RG-65, MC-30,
MTurk-287 and -771 (Spearman), and the Google analogies with every section, restricted to the
30,000 most frequent words as Mikolov et al. did.

`real`, for encoders (and the baselines scored beside them):
* `stsb_dev`, `stsb_test`: STS Benchmark Spearman. Dev is the only split anything may be chosen
  on; test is reported.
* `wordnet_wic`: WordNet WiC-style pairs; the cosine threshold is fitted on `train`, accuracy and
  ROC AUC are reported on `dev` (the data's authors withhold the test split), beside the
  word-overlap baseline.
* `def2word`: WordNet definition -> word retrieval on the `dev` split, R@1, R@10, MRR; the
  candidates are every distinct lemma of the dev rows, each embedded as a one-word text.
* `hypernym_probes`: the level probes' hierarchy-depth probes on the WordNet hypernym ladders
  (the lemma embedded alone; depth k = the k-th ancestor, nearest first; root k = the k-th
  counted from the root; lexname = WordNet's supersense), dev items against train items.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from research.config import SUITE_KIND
from research.errors import UserError

Evals = dict[str, dict[str, Any]]

DATA_PREFIX = "data:"  # a path relative to the evaluation data directory (eval.data_dir)
DATA_DIR_ENV = "STRATA_EVAL_DATA"
REPO = Path(__file__).resolve().parents[2]


def eval_data_dir(setting: str = "") -> Path | None:
    """The evaluation data directory: `setting` (eval.data_dir) if given, else $STRATA_EVAL_DATA,
    else ../shared/data beside the repository when it exists, else None."""
    if setting:
        return Path(setting).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    beside = REPO.parent / "shared" / "data"
    return beside if beside.is_dir() else None


def _real_word_suite() -> Evals:
    suite: Evals = {
        name: {"kind": "word_similarity", "path": f"{DATA_PREFIX}word/{file}"}
        for name, file in [
            ("ws353", "wordsim353.tsv"),
            ("ws353_sim", "wordsim353_sim.tsv"),
            ("ws353_rel", "wordsim353_rel.tsv"),
            ("rg65", "rg65.tsv"),
            ("mc30", "mc30.tsv"),
            ("mturk287", "mturk287.tsv"),
            ("mturk771", "mturk771.tsv"),
        ]
    }
    suite["google_analogy"] = {
        "kind": "analogy",
        "path": f"{DATA_PREFIX}word/questions_words.tsv",
        "restrict_vocab": 30000,
    }
    return suite


def _real_encoder_suite() -> Evals:
    sts = f"{DATA_PREFIX}sentence/stsbenchmark/sts-{{}}.csv"
    wordnet = f"{DATA_PREFIX}wordnet/wordnet_{{}}.tsv"
    return {
        "stsb_dev": {"kind": "sentence_similarity", "path": sts.format("dev")},
        "stsb_test": {"kind": "sentence_similarity", "path": sts.format("test")},
        "wordnet_wic": {
            "kind": "word_sense",
            "path": wordnet.format("wic_pairs"),
            "tune_split": "train",
            "eval_split": "dev",
        },
        "def2word": {
            "kind": "retrieval",
            "path": wordnet.format("def2word_core"),
            "query_column": "definition",
            "target_column": "lemma",
            "split": "dev",
        },
        "hypernym_probes": {
            "kind": "level_probes",
            "ladder": wordnet.format("hypernym_ladder_core"),
            "depths": [1, 2, 3],
            # Coarser classes than the nearest ancestors (mostly singletons): ancestors counted
            # from the root, and WordNet's 45 lexicographer files (supersenses).
            "root_depths": [2, 3],
            "label_columns": ["lexname"],
            "folds": 0,
        },
    }


# suite name -> model family ("word" or "encoder") -> the suite
NAMED_SUITES: dict[str, dict[str, Callable[[], Evals]]] = {
    "real": {"word": _real_word_suite, "encoder": _real_encoder_suite},
}


def resolve_evals(default_suite: Evals, evals: Evals, *, family: str, data_dir: str = "") -> Evals:
    """The evaluators a run builds: `default_suite`, then the config's `evals` in order (a
    named suite's entries where it is selected; an entry with a kind replaces one of the same
    name; an entry without one changes that evaluator's options), with `data:` paths resolved
    against the evaluation data directory. A missing file is a one-line UserError naming it
    and the settings that fix it."""
    out: Evals = {name: dict(spec) for name, spec in default_suite.items()}
    for name, spec in evals.items():
        if not isinstance(spec, dict):
            out[name] = spec  # evaluators_from_config says what is wrong with it
        elif spec.get("kind") == SUITE_KIND:
            if name not in NAMED_SUITES or family not in NAMED_SUITES[name]:
                known = sorted(n for n, by in NAMED_SUITES.items() if family in by)
                raise UserError(
                    f"evals={name}: no suite {name!r} for this model; named suites: "
                    f"{', '.join(known)}"
                )
            out.update(NAMED_SUITES[name][family]())
        elif "kind" not in spec and name in out:
            out[name] = {**out[name], **spec}
        else:
            out[name] = dict(spec)
    root = eval_data_dir(data_dir)
    for name, spec in out.items():
        if not isinstance(spec, dict):
            continue
        for option, value in spec.items():
            if isinstance(value, str) and value.startswith(DATA_PREFIX):
                spec[option] = str(_data_file(root, value[len(DATA_PREFIX) :], name, option))
    return out


def _data_file(root: Path | None, relative: str, name: str, option: str) -> Path:
    fix = f"--set evals.{name}.{option}=FILE"
    if root is None:
        raise UserError(
            f"evaluator {name!r} reads {relative} from the evaluation data directory, and none "
            f"is set: --set eval.data_dir=DIR (or ${DATA_DIR_ENV}), or {fix}"
        )
    path = root / relative
    if not path.is_file():
        raise UserError(
            f"evaluator {name!r}: {path} not found in the evaluation data directory {root}; "
            f"set eval.data_dir=DIR (or ${DATA_DIR_ENV}) to the folder holding {relative}, "
            f"or {fix}"
        )
    return path


def word_vectors_suite(world_files: dict) -> Evals:
    """word2vec on the synthetic world: its analogy and word-similarity gold files."""
    if not world_files:
        return {}
    return {
        "synthetic_analogy": {"kind": "analogy", "path": str(world_files["analogy"])},
        "synthetic_similarity": {"kind": "word_similarity", "path": str(world_files["similarity"])},
    }


def encoder_suite(
    world_files: dict, eval_config: Any, plot_dir: Path | None = None
) -> tuple[Evals, Path | None]:
    """The encoder on the synthetic world: sense pairs, STS, retrieval, polysemy separation, the
    context spaces and the level probes (heatmap into `plot_dir`). Returns (suite, the polysemy
    file or None), the latter for the polysemy picture."""
    if not world_files:
        return {}, None
    corpus_dir = Path(world_files["corpus"]).parent
    suite: Evals = {}
    for kind, name, file in [
        ("word_sense", "synthetic_sense", "wic.tsv"),
        ("sentence_similarity", "synthetic_sts", "sts-test.csv"),
        ("retrieval", "synthetic_retrieval", "retrieval.tsv"),
    ]:
        if (corpus_dir / file).exists():
            suite[name] = {"kind": kind, "path": str(corpus_dir / file)}
    polysemy_file = None
    if (corpus_dir / "polysemy.tsv").exists():
        polysemy_file = corpus_dir / "polysemy.tsv"
        suite["synthetic_polysemy"] = {"kind": "sense_separation", "path": str(polysemy_file)}
        # metrics only for a model with context spaces (multi_abstraction, context term on)
        suite["context_space"] = {"kind": "context_spaces", "path": str(polysemy_file)}
    ladder, documents = corpus_dir / "hierarchy.tsv", corpus_dir / "documents.jsonl"
    if ladder.exists() and documents.exists():
        suite["level_probes"] = {
            "kind": "level_probes",
            "ladder": str(ladder),
            "documents": str(documents),
            "plot": str(plot_dir / "level_probe_matrix.png") if plot_dir is not None else "",
            "folds": eval_config.probe_folds,
        }
    return suite, polysemy_file
