"""A Trainer script shaped like transformers' examples/pytorch/language-modeling/run_clm.py:
its arguments from the command line, ``train()`` (resumed with ``--resume_from_checkpoint``),
then ``evaluate()`` after training under ``--do_eval`` and ``predict()`` under
``--do_predict``; the run is closed at interpreter exit.

It writes ``fetched.json`` (``fetched_resumed.json`` when resuming) beside the output directory:
the real (non-padding) token count of every training sample in the order the Trainer fetched
them, read off the dataset itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from transformers import HfArgumentParser, Trainer, TrainingArguments

import hf_tracking  # noqa: F401  (registers report_to="hf_tracking")
from tests.support.tiny import PaddedDataset, tiny_model


class RecordingDataset(PaddedDataset):
    """Remembers the real tokens of each sample it hands out, in order."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.fetched: list[int] = []

    def __getitem__(self, index: int):
        sample = super().__getitem__(index)
        self.fetched.append(int(sample["attention_mask"].sum()))
        return sample


def main(argv: list[str]) -> None:
    (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(argv)
    train_dataset = RecordingDataset(40)
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=train_dataset,
        eval_dataset=PaddedDataset(8, seed=1) if args.do_eval else None,
    )
    if args.do_train:
        trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
        name = "fetched_resumed.json" if args.resume_from_checkpoint else "fetched.json"
        record = Path(args.output_dir).parent / name
        record.write_text(json.dumps(train_dataset.fetched))
    if args.do_eval:
        trainer.evaluate()
    if args.do_predict:
        trainer.predict(PaddedDataset(8, seed=2))


if __name__ == "__main__":
    main(sys.argv[1:])
