"""Score any trained run on MTEB: an adapter implementing MTEB v2's encoder protocol.

    import mteb
    from research.mteb_encoder import MTEBEncoder
    mteb.evaluate(MTEBEncoder("runs/encoder_con"), mteb.get_tasks(tasks=["STSBenchmark"]))

`MTEBEncoder(run_dir, pooling=...)` wraps what `research.embed.load_model` loads: a trained
encoder (mean / cls / last pooling) or a word2vec run (averaged or SIF-weighted word vectors).
MTEB hands `encode` a DataLoader of batches ({"text": [...], ...}); the texts are embedded with
the model's sentence-transformers-style `encode`, and similarities are cosines.

mteb is an optional extra (`pip install -e ".[mteb]"`; it pulls torch): nothing here imports
it except `mteb_model_meta`, which MTEB itself reads, so the adapter can be called (and tested)
without it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from research.errors import UserError
from research.eval.encoder_api import SentenceEncoder, cosine_matrix, paired_cosine

ENCODE_KWARGS = ("batch_size", "show_progress_bar", "precision")  # MTEB's EncodeKwargs


def run_revision(run_dir: Path) -> str:
    """A revision for MTEB's result cache: a digest of the run's config.json and run.json
    (code commit, data fingerprint), so a run retrained differently is not read from the cache."""
    digest = hashlib.sha1()
    found = False
    for name in ("config.json", "run.json", "vocab.txt"):
        if (run_dir / name).is_file():
            digest.update((run_dir / name).read_bytes())
            found = True
    return digest.hexdigest()[:12] if found else "local"


def run_name(run_dir: Path) -> str:
    """The run directory's name; a comparison's per-seed run (runs/simcse/seed0) is named with
    its method (simcse-seed0), so MTEB's results of different methods are told apart."""
    path = run_dir.resolve()
    if re.fullmatch(r"seed\d+", path.name):
        return f"{path.parent.name}-{path.name}"
    return path.name or "run"


class MTEBEncoder:
    """MTEB v2's `EncoderProtocol` for a run of this project (encoder or word2vec).

    The signature of `__init__` is the protocol's (model_name = the run directory) so MTEB's
    loaders can build it; `model=` wraps an already loaded model instead.
    """

    def __init__(
        self,
        model_name: str | Path,
        revision: str | None = None,
        *,
        device: str | None = None,
        pooling: str | None = None,
        model: SentenceEncoder | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise UserError(
                f"MTEBEncoder got unknown argument(s) {', '.join(sorted(kwargs))}; it takes the "
                "run directory, revision, pooling and model"
            )
        # device is part of MTEB's protocol; JAX places arrays on its default device
        # (choose it with JAX_PLATFORMS), so there is nothing to move here.
        del device
        self.run_dir = Path(model_name).expanduser()
        if model is None:
            from research.embed import load_model  # JAX and the model code load only here

            model = load_model(self.run_dir, pooling)
        self.model = model
        self.pooling = pooling or getattr(model, "pooling", None) or "mean"
        self.revision = revision or run_revision(self.run_dir)
        self._meta = None

    def encode(
        self,
        inputs: Iterable[Mapping[str, Any]],
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """(N, D) float32 embeddings of every text of every batch, in order.

        The models here are symmetric and have no instructions, so queries and documents
        (`prompt_type`) are embedded alike; the task and split do not change the embedding.
        """
        unknown = set(kwargs) - set(ENCODE_KWARGS)
        if unknown:
            raise UserError(
                f"unsupported encode argument(s) {', '.join(sorted(unknown))}; MTEB passes "
                f"{', '.join(ENCODE_KWARGS)}"
            )
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise UserError(
                    f"task {getattr(task_metadata, 'name', '?')}: batches without text "
                    f"(keys {', '.join(batch)}); these models embed text only"
                )
            texts.extend(batch["text"])
        return self.model.encode(
            texts,
            batch_size=kwargs.get("batch_size", 32),
            show_progress_bar=kwargs.get("show_progress_bar", False),
            precision=kwargs.get("precision") or "float32",
        )

    def similarity(self, embeddings1: np.ndarray, embeddings2: np.ndarray) -> np.ndarray:
        """(N1, N2) cosines."""
        return cosine_matrix(np.atleast_2d(embeddings1), np.atleast_2d(embeddings2))

    def similarity_pairwise(self, embeddings1: np.ndarray, embeddings2: np.ndarray) -> np.ndarray:
        """(N,) cosine of each pair of rows."""
        return paired_cosine(np.atleast_2d(embeddings1), np.atleast_2d(embeddings2))

    def describe(self) -> dict[str, Any]:
        """The fields of `mteb_model_meta`, as plain values (no mteb needed)."""
        return {
            "name": f"strata/{run_name(self.run_dir)}",
            "revision": self.revision,
            "max_tokens": getattr(self.model, "max_len", None),
            "embed_dim": int(self.model.encode(["a"]).shape[1]),
            "framework": ["JAX"] if hasattr(self.model, "max_len") else ["NumPy"],
            "similarity_fn_name": "cosine",
            "use_instructions": False,
            "modalities": ["text"],
            "experiment_kwargs": {"pooling": self.pooling},
        }

    @property
    def mteb_model_meta(self) -> Any:
        """mteb's ModelMeta of this run (imports mteb)."""
        if self._meta is None:
            from mteb.models import ModelMeta

            fields = ModelMeta.create_empty().model_dump()
            self._meta = ModelMeta.model_validate({**fields, **self.describe()})
        return self._meta
