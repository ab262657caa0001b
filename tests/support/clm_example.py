"""Offline inputs for the run_clm.py example script (tests/fixtures/run_clm.py): a tiny local
tokenizer, a tiny random GPT-2 config and text files, so nothing comes from the Hub."""

from __future__ import annotations

from pathlib import Path


def clm_inputs(directory: Path) -> dict[str, str]:
    """Write them into ``directory`` (the script's working directory); return the paths of the
    config and the tokenizer."""
    from hf_tracking.corpus import story_corpus

    corpus = story_corpus(train_size=120, validation_size=12)
    (directory / "train.txt").write_text("\n".join(corpus.train) + "\n")
    (directory / "validation.txt").write_text("\n".join(corpus.validation) + "\n")
    save_tokenizer_and_config(directory, corpus.train, 300)
    return {"config": str(directory / "config"), "tokenizer": str(directory / "tokenizer")}


def save_tokenizer_and_config(directory: Path, texts: list[str], vocab_size: int) -> None:
    """A BPE tokenizer trained on ``texts`` in ``directory/tokenizer`` and a tiny random GPT-2
    config for it in ``directory/config``."""
    from transformers import GPT2Config, PreTrainedTokenizerFast

    from hf_tracking.recipe import END_OF_TEXT, train_bpe

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(texts, vocab_size), eos_token=END_OF_TEXT, model_max_length=32
    )
    tokenizer.save_pretrained(str(directory / "tokenizer"))
    end = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=end, eos_token_id=end,
    )  # fmt: skip
    config.save_pretrained(str(directory / "config"))
