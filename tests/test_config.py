import pytest

from research import config as config_lib
from research.config import Config
from research.errors import UserError


def test_overrides_set_typed_values():
    config = config_lib.apply_overrides(
        Config(),
        [
            "data.source=corpus.txt",
            "data.window=3",
            "data.sample=1e-4",
            "model.kind=cbow",
            "train.learning_rate=0.05",
            "log.wandb=true",
            "train.epochs=2_000",
        ],
    )
    assert config.data.source == "corpus.txt"
    assert config.data.window == 3
    assert config.data.sample == pytest.approx(1e-4)
    assert config.model.kind == "cbow"
    assert config.log.wandb is True
    assert config.train.epochs == 2000


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("data.windw=3", "unknown config key 'data.windw'; valid keys: name, data.source"),
        ("nothing=3", "unknown config key 'nothing'"),
        ("data=3", "unknown config key 'data'"),
        ("data.window.x=3", "unknown config key 'data.window.x'"),
        ("train.epochs=five", "--set train.epochs=five: expected an integer"),
        ("data.sample=lots", "--set data.sample=lots: expected a number"),
        ("log.wandb=maybe", "--set log.wandb=maybe: expected true or false"),
        ("model.kind=glove", "--set model.kind=glove: expected one of skipgram, cbow"),
        ("train.epochs", "--set train.epochs: expected KEY=VALUE"),
    ],
)
def test_bad_overrides_are_one_line_errors(assignment, message):
    with pytest.raises(UserError) as error:
        config_lib.apply_override(Config(), assignment)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_key_error_lists_every_valid_key():
    with pytest.raises(UserError) as error:
        config_lib.apply_override(Config(), "bogus=1")
    for key in [
        "data.min_count",
        "data.negatives",
        "model.dim",
        "train.batch_size",
        "train.seed",
        "log.wandb",
        "evals",
        "eval.neighbours",
    ]:
        assert key in str(error.value)


def test_round_trip_through_json_dict():
    config = config_lib.apply_overrides(Config(), ["model.dim=7", "data.source=x.txt"])
    rebuilt = config_lib.from_dict(Config, config_lib.to_dict(config))
    assert rebuilt == config


def test_lists_and_mappings_are_typed_values():
    from research.config import EncoderRunConfig

    config = config_lib.apply_overrides(
        EncoderRunConfig(),
        [
            "objective.levels=[token,span]",
            "objective.contexts=water, finance",
            "objective.weights={mlm: 1, contrastive: 0.5}",
            "objective.level_weights=token=2,span=0.5",
            "objective.matryoshka.token=16",
        ],
    )
    assert config.objective.levels == ["token", "span"]
    assert config.objective.contexts == ["water", "finance"]
    assert config.objective.weights == {"mlm": 1.0, "contrastive": 0.5}
    assert config.objective.level_weights == {"token": 2.0, "span": 0.5}
    assert config.objective.matryoshka == {"token": 16}
    config_lib.apply_override(config, "objective.levels=[]")
    assert config.objective.levels == []


def test_json_lists_and_mappings_give_the_same_typed_values():
    from research.compare import CompareConfig
    from research.config import EncoderRunConfig

    config = config_lib.apply_overrides(
        EncoderRunConfig(),
        [
            'objective.levels=["token", "span"]',
            'objective.weights={"mlm": 1, "contrastive": 0.5}',
            'objective.matryoshka={"token": 16}',
        ],
    )
    assert config.objective.levels == ["token", "span"]  # no quotes left in the names
    assert config.objective.weights == {"mlm": 1.0, "contrastive": 0.5}
    assert config.objective.matryoshka == {"token": 16}
    with pytest.raises(UserError, match="expected an integer"):
        config_lib.apply_override(config, 'objective.matryoshka={"token": "big"}')
    compare = config_lib.apply_overrides(
        CompareConfig(), ['methods.mine={"objective.kind": "mlm", "train.steps": 10}']
    )
    assert compare.methods == {"mine": {"objective.kind": "mlm", "train.steps": 10}}


def test_evals_entries_are_built_by_their_keys():
    config = config_lib.apply_overrides(
        Config(),
        [
            "evals.ws.kind=word_similarity",
            "evals.ws.path=data/ws353.tsv",
            "evals.google.kind=analogy",
            "evals.google.path=questions-words.txt",
            "evals.google.restrict_vocab=30000",
            'evals.rg={"kind": "word_similarity", "path": "rg65.tsv"}',
        ],
    )
    assert config.evals == {
        "ws": {"kind": "word_similarity", "path": "data/ws353.tsv"},
        "google": {"kind": "analogy", "path": "questions-words.txt", "restrict_vocab": 30000},
        "rg": {"kind": "word_similarity", "path": "rg65.tsv"},
    }
    config_lib.apply_override(config, "evals.rg=")
    assert set(config.evals) == {"ws", "google"}
    config_lib.apply_override(config, "evals={}")
    assert config.evals == {}
    rebuilt = config_lib.from_dict(Config, config_lib.to_dict(config))
    assert rebuilt == config


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("objective.weights=mlm", "'mlm' is not NAME=VALUE"),
        ("objective.weights=mlm=lots", "--set objective.weights.mlm=lots: expected a number"),
        ("objective.matryoshka.token=big", "expected an integer"),
        ("objective.levels=[token", "a [ without its ]"),
        ("evals=[1]", "expected a JSON object of objects"),
        ("evals.ws.kind.x=1", "unknown config key 'evals.ws.kind.x'"),
        ("objective.levels.token=1", "unknown config key 'objective.levels.token'"),
    ],
)
def test_bad_list_and_mapping_overrides_are_one_line_errors(assignment, message):
    from research.config import EncoderRunConfig

    with pytest.raises(UserError) as error:
        config_lib.apply_override(EncoderRunConfig(), assignment)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
