"""Hugging Face BERT checkpoints in and out (research/checkpoints/hf.py, research/bert.py).

The fixture tests/data/tiny_bert is a randomly initialised BertForMaskedLM (hidden 32, 2 layers,
2 heads) with a BERT-shaped vocabulary, and its transformers outputs for four sentences, written
by tests/data/make_tiny_bert.py (torch; not run here).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file

import launch
from research import bert
from research.checkpoints import hf
from research.data import tokenizer as tok
from research.errors import UserError
from research.models.encoder import Encoder, EncoderConfig
from research.train.run_weights import load_run_weights

TINY = Path(__file__).parent / "data" / "tiny_bert"
WEIGHTS = hf.WEIGHTS
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("bert") / "run"
    bert.import_checkpoint(str(TINY), run_dir)
    return run_dir


def reference():
    data = np.load(TINY / "reference.npz")
    return {k: data[k] for k in data.files}


def test_a_tiny_bert_matches_transformers_at_every_layer_and_in_its_mlm_logits(imported):
    ref = reference()
    weights = load_run_weights(imported)
    model = nnx.merge(weights.graphdef, weights.params)
    vocab = hf.Vocabulary.from_hf((TINY / "vocab.txt").read_text().split("\n")[:-1], "tiny")
    tokens = vocab.inverse[ref["input_ids"]]
    mask = ref["attention_mask"].astype(bool)
    # The renumbered tokeniser splits the sentences into BERT's pieces (strata adds CLS/SEP).
    sentences = json.loads((TINY / "sentences.json").read_text())
    encoded = weights.tokenizer.encode_batch(sentences, add_special_tokens=False)
    for row, encoding in zip(tokens, encoded, strict=True):
        assert list(row[row != tok.PAD]) == [tok.CLS, *encoding.ids, tok.SEP]
    states = model.encoder(tokens, mask)
    assert len(states) == len(ref["hidden_states"]) == 3
    for layer, (ours, theirs) in enumerate(zip(states, ref["hidden_states"], strict=True)):
        np.testing.assert_allclose(
            np.asarray(ours)[mask], theirs[mask], atol=1e-5, rtol=0, err_msg=f"layer {layer}"
        )
    logits = np.asarray(model.lm_logits(states[-1]))
    np.testing.assert_allclose(logits[mask], ref["logits"][..., vocab.order][mask], atol=1e-5)
    assert weights.config.model.norm == "post" and weights.config.model.norm_eps == 1e-12


def test_loading_and_running_a_checkpoint_never_imports_torch(tmp_path):
    script = f"""
import sys
import jax
import numpy as np
from flax import nnx
from research import bert
from research.train.run_weights import load_run_weights
bert.import_checkpoint({str(TINY)!r}, {str(tmp_path / "run")!r})
weights = load_run_weights({str(tmp_path / "run")!r})
model = nnx.merge(weights.graphdef, weights.params)
states = model.encoder(np.array([[2, 40, 3]]), np.ones((1, 3), bool))
model.lm_logits(states[-1]).block_until_ready()
assert "torch" not in sys.modules, "torch was imported"
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_export_then_import_is_exact_and_reproduces_berts_files(imported, tmp_path):
    out = tmp_path / "exported"
    line = bert.export_run(imported, out)
    assert line.startswith(f"exported {imported} (step 0, latest weights) -> {out}")
    assert (out / "vocab.txt").read_bytes() == (TINY / "vocab.txt").read_bytes()
    original, exported = load_file(str(TINY / "model.safetensors")), load_file(str(out / WEIGHTS))
    assert set(exported) == set(original)
    for name, array in original.items():
        np.testing.assert_array_equal(exported[name], array, err_msg=name)
    # BERT's tokenizer.json and the exported one split and number text identically.
    from tokenizers import Tokenizer

    sentences = json.loads((TINY / "sentences.json").read_text())
    theirs = Tokenizer.from_file(str(TINY / "tokenizer.json")).encode_batch(sentences)
    ours = Tokenizer.from_file(str(out / "tokenizer.json")).encode_batch(sentences)
    assert [e.ids for e in ours] == [e.ids for e in theirs]
    # ... and importing the export gives back the same strata run, bit for bit.
    again = tmp_path / "again"
    bert.import_checkpoint(str(out), again)
    first, second = load_run_weights(imported), load_run_weights(again)
    assert (again / "tokenizer.json").read_bytes() == (imported / "tokenizer.json").read_bytes()
    a, b = hf.flat_params(first.params), hf.flat_params(second.params)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_the_export_loads_in_transformers_with_the_same_outputs(imported, tmp_path):
    transformers = pytest.importorskip("transformers")
    import torch

    out = tmp_path / "exported"
    bert.export_run(imported, out)
    ref = reference()
    model = transformers.BertForMaskedLM.from_pretrained(out).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    sentences = json.loads((TINY / "sentences.json").read_text())
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    np.testing.assert_array_equal(batch["input_ids"].numpy(), ref["input_ids"])
    with torch.no_grad():
        output = model(**batch, output_hidden_states=True)
    mask = ref["attention_mask"].astype(bool)
    np.testing.assert_allclose(output.logits.numpy()[mask], ref["logits"][mask], atol=1e-5)
    base = transformers.BertModel.from_pretrained(out).eval()
    with torch.no_grad():
        hidden = base(**batch).last_hidden_state.numpy()
    np.testing.assert_allclose(hidden[mask], ref["hidden_states"][-1][mask], atol=1e-5)


def test_sentence_transformers_embeds_the_export_as_strata_embeds_the_run(imported, tmp_path):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from research.embed import load_encoder

    out = tmp_path / "exported"
    bert.export_run(imported, out)
    sentences = json.loads((TINY / "sentences.json").read_text())
    vectors = sentence_transformers.SentenceTransformer(str(out), device="cpu").encode(sentences)
    ours = load_encoder(imported).embed_sentences(sentences)
    np.testing.assert_allclose(vectors, ours, atol=1e-5)


def write_checkpoint(directory: Path, config: dict, weights: str = hf.WEIGHTS) -> Path:
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config))
    (directory / weights).write_bytes(b"")
    return directory


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {"model_type": "roberta", "architectures": ["RobertaForMaskedLM"]},
            "model_type 'roberta' (RobertaForMaskedLM) is not supported; only BERT",
        ),
        (
            {"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"]},
            "model_type 'distilbert' (DistilBertForMaskedLM) is not supported",
        ),
        ({"model_type": "bert", "hidden_act": "gelu_new"}, "hidden_act 'gelu_new'"),
    ],
)
def test_other_architectures_are_refused_by_name(tmp_path, config, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hf.read_bert(write_checkpoint(tmp_path / "model", config))


def test_a_pytorch_bin_alone_is_refused_with_the_conversion_to_run(tmp_path):
    directory = write_checkpoint(tmp_path / "model", {"model_type": "bert"}, "pytorch_model.bin")
    with pytest.raises(UserError, match="only pytorch_model.bin.*save_pretrained.*safe_serial"):
        hf.read_bert(directory)


def test_an_unreachable_hub_is_a_one_line_error_naming_the_local_alternative(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # conftest sets it too: never download in tests
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(UserError, match="could not fetch bert-base-uncased from the Hugging Face"):
        hf.read_bert("hf:bert-base-uncased")
    code = launch.main(
        [
            "experiments/simcse_bert_base.py",
            "--workdir",
            str(tmp_path / "run"),
            "--set",
            "train.init_from=hf:bert-base-uncased",
        ]
    )
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and error.startswith("error: could not fetch bert-base-uncased"), error
    assert "train.init_from=PATH" in error


def test_pre_norm_runs_are_not_exported_as_bert(tmp_path):
    config = hf.read_bert(TINY).run_config
    config.model.norm = "pre"
    with pytest.raises(UserError, match="pre-norm encoder.*model.norm=post"):
        hf.export_bert(tmp_path, config, None, None, tmp_path / "out")


def test_the_simcse_recipe_starts_from_a_local_bert_directory(tmp_path, capsys):
    words = "the bank of river was quiet a loan from please cat sat travel far stories".split()
    rng = np.random.default_rng(0)
    corpus = tmp_path / "wiki.txt"
    corpus.write_text(
        "".join(" ".join(rng.choice(words, rng.integers(4, 9))) + ".\n" for _ in range(64))
    )
    workdir = tmp_path / "run"
    overrides = [
        f"train.init_from={TINY}",
        f"data.source={corpus}",
        "train.steps=2",
        "train.sentence_batch_size=8",
        "train.log_every=1",
        "eval.every=0",
        "eval.select=",
        "evals={}",
        "log.progress=false",
    ]
    args = ["experiments/simcse_bert_base.py", "--workdir", str(workdir)]
    assert launch.main(args + [x for o in overrides for x in ("--set", o)]) == 0
    printed = capsys.readouterr().err
    assert f"train.init_from={TINY}: imported into" in printed
    assert "model.norm: 'pre' -> 'post'" in printed and "model.dim: 0 -> 32" in printed
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["train"]["init_from"] == str(TINY)
    assert (saved["model"]["norm"], saved["model"]["dim"], saved["model"]["max_len"]) == (
        "post",
        32,
        64,
    )
    record = json.loads((workdir / "run.json").read_text())["init_from"]
    assert record["checkpoint"] == str(TINY) and record["loaded"] == ["encoder"]
    assert record["fresh"] == ["projection"]  # SimCSE's MLP starts fresh, as in the paper
    # The run tokenises with BERT's vocabulary, and its export is a BERT with BERT's vocab.txt.
    assert (workdir / hf.HF_VOCAB).read_bytes() == (TINY / "vocab.txt").read_bytes()
    bert.export_run(workdir, tmp_path / "exported")
    assert (tmp_path / "exported" / "vocab.txt").read_bytes() == (TINY / "vocab.txt").read_bytes()
    exported = load_file(str(tmp_path / "exported" / WEIGHTS))
    assert exported["pooler.dense.weight"].shape == (32, 32)  # SimCSE's MLP is BERT's pooler
    assert load_run_weights(workdir).config.model.pooling == "cls"


def copy_checkpoint(tmp_path: Path, rename, pooler: bool = False) -> Path:
    """The tiny BERT with its tensors renamed by `rename(name) -> name or None (dropped)`, and
    with pooler=True a random pooler added."""
    from safetensors.numpy import save_file

    directory = tmp_path / "variant"
    directory.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer.json"):
        (directory / name).write_bytes((TINY / name).read_bytes())
    tensors = {}
    for name, array in load_file(str(TINY / WEIGHTS)).items():
        if rename(name) is not None:
            tensors[rename(name)] = array
    if pooler:
        rng = np.random.default_rng(0)
        tensors["pooler.dense.weight"] = rng.normal(size=(32, 32)).astype(np.float32)
        tensors["pooler.dense.bias"] = rng.normal(size=32).astype(np.float32)
    save_file(tensors, str(directory / WEIGHTS))
    return directory


def test_old_gamma_beta_names_import_the_same_weights(imported, tmp_path):
    directory = copy_checkpoint(
        tmp_path,
        lambda n: n.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ),
    )
    ours = hf.read_bert(directory).params
    theirs = hf.flat_params(load_run_weights(imported).params)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


def test_a_headless_bert_model_imports_its_pooler_as_the_simcse_projection(imported, tmp_path):
    # BertModel as sentence-transformers saves it: no `bert.` prefix, no MLM head, a pooler.
    directory = copy_checkpoint(
        tmp_path, lambda n: None if n.startswith("cls.") else n.removeprefix("bert."), pooler=True
    )
    checkpoint = hf.read_bert(directory)
    assert checkpoint.heads == "pooler"
    model = checkpoint.run_config.model
    assert (model.projection, model.pooling, checkpoint.run_config.objective.kind) == (
        "mlp",
        "cls",
        "contrastive",
    )
    pooler = load_file(str(directory / WEIGHTS))["pooler.dense.weight"]
    np.testing.assert_array_equal(checkpoint.params["projection/out/kernel"], pooler.T)
    run_dir = hf.write_run(checkpoint, tmp_path / "run")
    encoder = hf.flat_params(load_run_weights(run_dir).params)
    reference_run = hf.flat_params(load_run_weights(imported).params)
    for name, array in reference_run.items():
        if name.startswith("encoder/"):
            np.testing.assert_array_equal(encoder[name], array, err_msg=name)


def test_bert_attention_dropout_is_imported_and_drops_attention_probabilities(imported):
    assert load_run_weights(imported).config.model.attention_dropout == 0.1  # the checkpoint's
    tokens, mask = np.array([[2, 7, 8, 9, 3]]), np.ones((1, 5), bool)

    def states(attention_dropout: float, seed: int | None) -> np.ndarray:
        settings = EncoderConfig(
            vocab_size=10, dim=8, layers=1, heads=2, mlp_dim=16, max_len=8, dropout=0.0,
            attention_dropout=attention_dropout, norm="post", embed_norm=True,
        )  # fmt: skip
        encoder = Encoder(settings, rngs=nnx.Rngs(params=0))
        if seed is None:
            return np.asarray(encoder(tokens, mask)[-1])
        key = jax.random.key(seed)
        return np.asarray(encoder(tokens, mask, deterministic=False, rngs=key)[-1])

    clean = states(0.5, None)
    np.testing.assert_array_equal(states(0.0, 0), clean)  # no site: training is deterministic
    assert not np.allclose(states(0.5, 0), clean) and not np.allclose(
        states(0.5, 0), states(0.5, 1)
    )
    np.testing.assert_array_equal(states(0.5, 0), states(0.5, 0))


def test_a_run_begun_before_the_bert_options_existed_still_resumes(tmp_path):
    from research import config as config_lib
    from research.config import EncoderRunConfig
    from research.train import workdir

    saved = config_lib.to_dict(EncoderRunConfig())
    for key in ("norm", "attention_dropout", "token_types", "embed_norm", "norm_eps", "dim"):
        del saved["model"][key]
    del saved["data"]["tokenizer"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    (tmp_path / "checkpoints").mkdir()
    assert workdir.check_resume_config(tmp_path, EncoderRunConfig()) == []
    changed = EncoderRunConfig()
    changed.model.norm = "post"
    with pytest.raises(UserError, match="model.norm: None -> 'post'"):
        workdir.check_resume_config(tmp_path, changed)


def test_sequences_longer_than_the_checkpoints_positions_are_refused_before_any_work(
    tmp_path, capsys
):
    args = ["experiments/encoder_mlm.py", "--workdir", str(tmp_path / "run")]
    overrides = [f"train.init_from={TINY}", "data.max_len=128"]  # the tiny BERT has 64
    assert launch.main(args + [x for o in overrides for x in ("--set", o)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: model.max_len=64 is shorter than data.max_len/sentence_len")
    assert not (tmp_path / "run").exists()
