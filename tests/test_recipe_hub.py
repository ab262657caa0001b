"""A recipe's Hub path (streaming data, a tokenizer trained on it, a split held out), with
datasets.load_dataset answering from the offline corpus as the Hub would."""

from __future__ import annotations

import pytest

from hf_tracking.recipe import (
    build_datasets,
    build_tokenizer,
    load_recipe,
    load_texts,
    tokenizer_cache_dir,
)
from tests.test_recipe import RECIPES, SMALL


@pytest.fixture
def fake_hub(monkeypatch):
    """datasets.load_dataset answering from the offline corpus, as a Hub dataset would."""
    import datasets

    from hf_tracking.corpus import story_corpus

    corpus = story_corpus(300, 60, seed=5)
    calls = []

    def load_dataset(name, config=None, split=None, streaming=False):
        calls.append((name, config, split, streaming))
        texts = corpus.validation if split == "validation" else corpus.train
        dataset = datasets.Dataset.from_dict({"text": texts, "id": list(range(len(texts)))})
        return dataset.to_iterable_dataset() if streaming else dataset

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_hub_streaming_data_with_a_locally_trained_tokenizer(fake_hub):
    recipe = load_recipe(RECIPES / "tiny.yaml", [*SMALL, "data.max_train_documents=200"])
    train_texts, validation_texts = load_texts(recipe)
    assert fake_hub == [
        ("roneneldan/TinyStories", None, "train", True),
        ("roneneldan/TinyStories", None, "validation", True),
    ]
    tokenizer = build_tokenizer(recipe, train_texts)
    assert "TinyStories-bpe1024" in tokenizer_cache_dir(recipe).name
    train, validation = build_datasets(recipe, tokenizer, train_texts, validation_texts)
    blocks = list(validation)
    assert len(blocks) == 2 * 4
    first = next(iter(train))
    assert set(first) == {"input_ids", "attention_mask", "labels"}
    assert len(first["input_ids"]) == 32


def test_hub_data_without_a_validation_split_holds_documents_out(fake_hub):
    recipe = load_recipe(
        RECIPES / "tiny.yaml",
        [
            *SMALL,
            "data.streaming=false",
            "data.validation_split=null",
            "data.validation_documents=50",
        ],
    )
    train_texts, validation_texts = load_texts(recipe)
    assert [call[2] for call in fake_hub] == ["train"]
    assert len(validation_texts) == 50 and len(train_texts) == 250
    assert not set(train_texts["text"]) & set(validation_texts["text"])
