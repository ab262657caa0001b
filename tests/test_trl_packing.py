"""TRL's SFTTrainer with packing (``bfd``, its default strategy: padding-free rows of documents
with ``position_ids`` and no attention mask) on a tokenizer with no pad token, so TRL pads with
the end-of-text token: every document's end-of-text token is a real token and is counted, checked
against an independent count of the documents in every training forward."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


class RecordingCollator:
    """TRL's collator, remembering the real tokens of each batch it builds: the lengths of the
    packed rows it was given, before any padding."""

    def __init__(self, collate) -> None:
        self.collate = collate
        self.real: list[int] = []

    def __call__(self, examples):
        self.real.append(sum(len(example["input_ids"]) for example in examples))
        return self.collate(examples)


def tokenizer_without_pad():
    from transformers import PreTrainedTokenizerFast

    from hf_tracking.corpus import story_corpus
    from hf_tracking.recipe import END_OF_TEXT, train_bpe

    stories = story_corpus(train_size=24, validation_size=0).train
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(stories, 300), eos_token=END_OF_TEXT
    )
    # Documents of a sentence each (a few dozen tokens): several fit in one packed row.
    sentences = [sentence for story in stories for sentence in story.split(". ")]
    return tokenizer, sentences


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory):
    import torch
    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    directory = tmp_path_factory.mktemp("trl")
    tokenizer, stories = tokenizer_without_pad()
    assert tokenizer.pad_token is None
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=len(tokenizer), n_positions=96, n_embd=32, n_layer=2, n_head=2)
    )
    args = SFTConfig(
        output_dir=str(directory / "out"),
        packing=True,
        max_length=96,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=4,
        logging_steps=2,
        save_strategy="no",
        report_to="hf_tracking",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"text": stories}),
        processing_class=tokenizer,
    )
    assert trainer.padding_free and tokenizer.pad_token_id == tokenizer.eos_token_id
    collator = trainer.data_collator = RecordingCollator(trainer.data_collator)
    seen: list[dict] = []
    forwards = model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs) if module.training else None,
        with_kwargs=True,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        patch.setenv("HF_TRACKING_BACKENDS", "local")
        trainer.train()
    forwards.remove()
    from hf_tracking import TrackingCallback
    from tests.support.runs import metrics_rows, strict_json

    (callback,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, TrackingCallback)]
    callback.wait_for_backends()
    summary = strict_json(callback.summary_path)
    return {
        "seen": seen,
        "real": collator.real,
        "rows": metrics_rows(summary["run_dir"]),
        "summary": summary,
        "eos": tokenizer.eos_token_id,
    }


def test_packed_batches_are_padding_free_rows_with_every_document_end(packed_run):
    # What the tracker's forward pre-hook sees: one row of documents, positions restarting at
    # each document, no attention mask, end-of-text tokens (the pad id) inside the row.
    forwards = packed_run["seen"]
    assert len(forwards) == 8
    for inputs in forwards:
        assert "attention_mask" not in inputs and inputs["position_ids"].shape[0] == 1
        assert (inputs["input_ids"] == packed_run["eos"]).sum() > 1
    assert packed_run["real"][:8] == [inputs["input_ids"].numel() for inputs in forwards]


def test_every_packed_token_is_counted_end_of_text_included(packed_run):
    # Batches are collated in the order they are forwarded (no DataLoader workers): the first
    # ones collated are the ones trained on.
    real = packed_run["real"]
    train = [row for row in packed_run["rows"] if row["event"] == "train"]
    assert [row["time/gradient_steps"] for row in train] == [2, 4]
    assert [row["time/tokens_seen"] for row in train] == [sum(real[:4]), sum(real[:8])]
    # Padding-free rows hold no padding at all.
    assert [row["tokens/slots"] for row in train] == [sum(real[:4]), sum(real[:8])]
    assert {row["tokens/padding_efficiency_pct"] for row in train} == {100.0}
    assert packed_run["summary"]["totals"]["tokens_seen"] == sum(real[:8])
