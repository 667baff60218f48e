"""A finished (or checkpointed) encoder run's weights, for using it (research/embed.py) or for
starting another run from it (`train.init_from`, staged training).

Which weights: with periodic model selection (`eval.every` and `eval.select`) the selected
parameters kept in `best/`, otherwise the latest checkpoint. Only the parameters are read, never
the optimizer state (which an experiment file may have chosen).

Starting from a parent run (`warm_start`): the tokeniser must be the same file (ids are rows of
the embedding table); every module the parent has (encoder, lm_head, projection, level_head,
context_film) must have exactly this run's leaves and shapes, else the model settings differ
and the run is refused; modules the parent lacks (a projection head after MLM pretraining)
start fresh from the seed. The optimizer, step, learning-rate schedule and data position start
fresh too.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from research import config as config_lib
from research.config import EncoderRunConfig
from research.data import tokenizer as tok
from research.errors import UserError
from research.io.checkpoint import Checkpointer
from research.objectives.registry import text_model

BEST_DIR = "best"  # the selected parameters of a run with eval.select (train/encoder.py)


@dataclasses.dataclass
class RunWeights:
    run_dir: Path
    config: EncoderRunConfig
    tokenizer: Any
    graphdef: nnx.GraphDef
    params: nnx.State
    step: int
    which: str  # "best" (selected by eval.select) or "latest" (the last checkpoint)


def run_config(run_dir: Path) -> EncoderRunConfig:
    """The encoder config a run was trained with; a one-line error for anything else."""
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise UserError(
            f"{run_dir} is not an encoder run (no config.json); train one with "
            "python launch.py experiments/encoder_mlm.py --workdir DIR"
        )
    raw = json.loads(config_path.read_text())
    if "objective" not in raw:
        raise UserError(f"{run_dir} is a word-vector run; use python -m research.query for it")
    return config_lib.from_dict(EncoderRunConfig, raw)


def load_run_weights(run_dir: str | Path) -> RunWeights:
    """The run's config, tokeniser and weights (best/ when the run selected them, else its
    latest checkpoint)."""
    run_dir = Path(run_dir)
    config = run_config(run_dir)
    tokenizer = tok.load_tokenizer(run_dir / "tokenizer.json")
    run_info_path = run_dir / "run.json"
    if run_info_path.exists():
        trained_vocab = json.loads(run_info_path.read_text()).get("vocab_size")
        if trained_vocab is not None and trained_vocab != tokenizer.get_vocab_size():
            raise UserError(
                f"{run_dir}: the tokeniser has {tokenizer.get_vocab_size()} tokens but the "
                f"checkpoint was trained with {trained_vocab}; restore the run's own "
                "tokenizer.json"
            )
    vocab_size = tokenizer.get_vocab_size()
    graphdef, like = jax.eval_shape(
        lambda: nnx.split(text_model(config, vocab_size, rngs=nnx.Rngs(params=0)))
    )
    for which, directory in (("best", run_dir / BEST_DIR), ("latest", run_dir / "checkpoints")):
        if which == "best" and not directory.is_dir():
            continue
        checkpoints = Checkpointer(directory)
        try:
            step = checkpoints.latest_step()
            if step is None:
                continue
            params = checkpoints.restore_params(step, like)
        finally:
            checkpoints.close()
        return RunWeights(run_dir, config, tokenizer, graphdef, params, step, which)
    raise UserError(f"{run_dir} has no checkpoint yet; train it first")


def _leaf_shapes(tree: Any) -> dict[str, dict[str, tuple]]:
    """{module: {leaf path: shape}} for the top-level modules of a params state."""
    modules: dict[str, dict[str, tuple]] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        module = str(getattr(path[0], "key", path[0]))
        modules.setdefault(module, {})[jax.tree_util.keystr(path)] = tuple(leaf.shape)
    return modules


def check_compatible(parent: RunWeights, tokenizer_json: bytes, like: Any) -> dict[str, list]:
    """Refuse a parent whose tokeniser or model shape differs from this run's (`like`: this
    run's params, abstract or concrete); returns {"loaded": modules, "fresh": modules}."""
    where = f"train.init_from={parent.run_dir}"
    if (parent.run_dir / "tokenizer.json").read_bytes() != tokenizer_json:
        raise UserError(
            f"{where}: its tokeniser differs from this run's (another data.source, "
            "data.sentences or data.vocab_size); train both stages on the same data settings"
        )
    mine, theirs = _leaf_shapes(like), _leaf_shapes(parent.params)
    for module in sorted(set(mine) & set(theirs)):
        if mine[module] != theirs[module]:
            differing = sorted(
                f"{path}: {theirs[module].get(path)} -> {mine[module].get(path)}"
                for path in set(mine[module]) | set(theirs[module])
                if mine[module].get(path) != theirs[module].get(path)
            )
            raise UserError(
                f"{where}: its {module} has another shape ({'; '.join(differing[:2])}); set "
                "model.size, model.positions, model.projection and data.max_len/sentence_len "
                "as in that run"
            )
    return {"loaded": sorted(set(mine) & set(theirs)), "fresh": sorted(set(mine) - set(theirs))}


def warm_start(params: Any, parent_params: Any) -> Any:
    """`params` with every leaf the parent has replaced by the parent's (checked beforehand by
    `check_compatible`); the others (heads the parent lacks) keep their fresh values."""
    theirs = {
        jax.tree_util.keystr(path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(parent_params)[0]
    }
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: theirs.get(jax.tree_util.keystr(path), leaf), params
    )


def parent_record(parent: RunWeights, modules: dict[str, list]) -> dict[str, Any]:
    """What run.json keeps about the parent run: where, which commit, which step and weights."""
    info_path = parent.run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    return {
        "path": str(parent.run_dir.resolve()),
        "git_commit": info.get("git_commit"),
        "step": parent.step,
        "weights": parent.which,
        "objective": parent.config.objective.kind,
        **modules,
    }
