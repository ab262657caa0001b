"""Offline inputs for transformers' run_clm.py example: a tiny local tokenizer, a tiny random GPT-2
config, text files and the accuracy metric it loads with evaluate (a local module, so nothing
comes from the Hub)."""

from __future__ import annotations

from pathlib import Path


def clm_inputs(directory: Path) -> dict[str, str]:
    """Write them into ``directory`` (the script's working directory); return the paths of the
    config and the tokenizer."""
    from transformers import GPT2Config, PreTrainedTokenizerFast

    from hf_tracking.corpus import story_corpus
    from hf_tracking.recipe import END_OF_TEXT, train_bpe

    corpus = story_corpus(train_size=120, validation_size=12)
    (directory / "train.txt").write_text("\n".join(corpus.train) + "\n")
    (directory / "validation.txt").write_text("\n".join(corpus.validation) + "\n")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(corpus.train, 300), eos_token=END_OF_TEXT, model_max_length=32
    )
    tokenizer.save_pretrained(str(directory / "tokenizer"))
    end = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=32, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=end, eos_token_id=end,
    )  # fmt: skip
    config.save_pretrained(str(directory / "config"))
    metric = directory / "accuracy"
    metric.mkdir()
    (metric / "accuracy.py").write_text(ACCURACY_METRIC)
    return {"config": str(directory / "config"), "tokenizer": str(directory / "tokenizer")}


ACCURACY_METRIC = """
import datasets
import evaluate


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of equal predictions and references",
            citation="",
            inputs_description="",
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        same = sum(int(p == r) for p, r in zip(predictions, references))
        return {"accuracy": same / len(references)}
"""
