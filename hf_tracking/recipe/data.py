"""Recipe data: texts from the Hub or the offline corpus, the tokenizer, packed datasets."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hf_tracking.errors import ConfigError
from hf_tracking.recipe.settings import END_OF_TEXT, HubUnreachable, Recipe

logger = logging.getLogger("hf_tracking")


# ===================================================================== the Hub
def is_hub_error(error: BaseException | None) -> bool:
    """True for the errors datasets and transformers raise when the Hub cannot be reached."""
    from huggingface_hub import errors

    unreachable = (ConnectionError, TimeoutError, errors.OfflineModeIsEnabled)
    unreachable += (errors.LocalEntryNotFoundError,)
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    for seen in chain:
        text = str(seen).lower()
        if isinstance(seen, unreachable) or (
            isinstance(seen, OSError) and ("couldn't connect" in text or "offline mode" in text)
        ):
            return True
    return False


def _hub_call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as error:
        if is_hub_error(error):
            raise HubUnreachable(
                f"could not reach the Hugging Face Hub to load {what} ({type(error).__name__}); "
                "run with --offline to train on the built-in offline corpus"
            ) from None
        raise


# ===================================================================== data
def load_texts(recipe: Recipe) -> tuple[Any, Any]:
    """(training texts, validation texts) as ``datasets`` datasets with a text column."""
    import datasets

    data = recipe.data
    if recipe.offline:
        from hf_tracking.corpus import story_corpus

        corpus = story_corpus(
            data.offline_train_documents, data.offline_validation_documents, data.offline_seed
        )
        train = datasets.Dataset.from_dict({data.text_column: corpus.train})
        return train, datasets.Dataset.from_dict({data.text_column: corpus.validation})

    def load(split: str) -> Any:
        return _hub_call(
            f"dataset {data.dataset_name!r}",
            datasets.load_dataset,
            data.dataset_name,
            data.dataset_config,
            split=split,
            streaming=data.streaming,
        )

    train = load(data.split)
    if data.validation_split:
        validation = load(data.validation_split)
    else:
        validation = _take(train, data.validation_documents)
        train = _skip(train, data.validation_documents)
    if data.max_train_documents:
        train = _take(train, data.max_train_documents)
    return train, validation


def build_tokenizer(recipe: Recipe, train_texts: Any) -> Any:
    """The Hub tokenizer ``data.tokenizer_name``, or a byte-level BPE trained here (always with
    ``--offline``), cached under ``{output_dir}/tokenizers/``."""
    data = recipe.data
    if data.tokenizer_name and not recipe.offline:
        from transformers import AutoTokenizer

        tokenizer = _hub_call(
            f"tokenizer {data.tokenizer_name!r}", AutoTokenizer.from_pretrained, data.tokenizer_name
        )
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    else:
        tokenizer = _local_tokenizer(recipe, train_texts)
    if len(tokenizer) > recipe.config.vocab_size:
        raise ConfigError(
            f"vocab_size must be >= the tokenizer's {len(tokenizer)} tokens, "
            f"got {recipe.config.vocab_size}"
        )
    return tokenizer


def tokenizer_cache_dir(recipe: Recipe) -> Path:
    """Where the locally trained tokenizer of this recipe's data and vocab_size is kept."""
    data = recipe.data
    if recipe.offline:
        origin = [data.offline_source, data.offline_train_documents, data.offline_seed]
    else:
        origin = [data.dataset_name, data.dataset_config, data.split, data.validation_split]
        origin += [data.validation_documents, data.tokenizer_train_documents]
    origin.append(recipe.config.vocab_size)
    digest = hashlib.sha256(repr(origin).encode()).hexdigest()[:10]
    label = data.offline_source if recipe.offline else str(data.dataset_name).split("/")[-1]
    name = f"{label}-bpe{recipe.config.vocab_size}-{digest}"
    return Path(recipe.config.output_dir) / "tokenizers" / name


def _local_tokenizer(recipe: Recipe, train_texts: Any) -> Any:
    from transformers import PreTrainedTokenizerFast

    cache = tokenizer_cache_dir(recipe)
    if (cache / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(cache))
    column = recipe.data.text_column
    documents = _take(train_texts, recipe.data.tokenizer_train_documents)
    texts = (row[column] for row in documents)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(texts, recipe.config.vocab_size),
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
    )
    tokenizer.save_pretrained(str(cache))
    return tokenizer


def train_bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A GPT-2-style byte-level BPE with ``<|endoftext|>``, trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def pack(texts: Any, tokenizer: Any, seq_length: int, column: str, num_proc: int | None) -> Any:
    """Tokenize, join documents with EOS and cut into ``seq_length`` blocks (remainder of each
    batch of 1000 documents dropped); every position is a real, loss-bearing token."""
    eos = tokenizer.eos_token_id

    def blocks(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        ids: list[int] = []
        for row in tokenizer(batch[column], add_special_tokens=False)["input_ids"]:
            ids.extend(row)
            ids.append(eos)
        usable = len(ids) // seq_length * seq_length
        chunks = [ids[start : start + seq_length] for start in range(0, usable, seq_length)]
        return {
            "input_ids": chunks,
            "attention_mask": [[1] * seq_length for _ in chunks],
            "labels": [list(chunk) for chunk in chunks],
        }

    import datasets

    texts = texts.select_columns([column])
    options: dict[str, Any] = {"batched": True, "remove_columns": [column]}
    if isinstance(texts, datasets.Dataset):
        options.update(num_proc=num_proc, desc="Tokenizing and packing")
    return texts.map(blocks, **options)


def build_datasets(
    recipe: Recipe, tokenizer: Any, train_texts: Any, validation_texts: Any
) -> tuple[Any, Any]:
    """(training blocks, validation blocks); validation is cut to ``eval_batches`` batches."""
    config, data = recipe.config, recipe.data
    train = pack(train_texts, tokenizer, config.seq_length, data.text_column, data.num_proc)
    validation = pack(
        validation_texts, tokenizer, config.seq_length, data.text_column, data.num_proc
    )
    validation = _take(validation, recipe.training.eval_batches * config.batch_size)
    if data.streaming and not recipe.offline:
        train = train.shuffle(seed=recipe.training.seed, buffer_size=data.shuffle_buffer)
    elif len(train) == 0 or len(validation) == 0:
        raise ConfigError(
            f"the data gives no block of seq_length {config.seq_length} tokens "
            f"({len(train)} training, {len(validation)} validation blocks); use more documents "
            "or a shorter seq_length"
        )
    return train, validation


def _take(dataset: Any, count: int) -> Any:
    if hasattr(dataset, "__len__"):
        return dataset.select(range(min(count, len(dataset))))
    return dataset.take(count)


def _skip(dataset: Any, count: int) -> Any:
    if hasattr(dataset, "__len__"):
        return dataset.select(range(min(count, len(dataset)), len(dataset)))
    return dataset.skip(count)
