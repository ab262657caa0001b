"""An ``HfArgumentParser`` Trainer script that never imports hf_tracking: ``--report_to
hf_tracking`` reaches it through the installed start-up hook. Its arguments come from the command
line, or from one JSON file of arguments (``script.py args.json``), as Hugging Face example
scripts take them.

usage: report_to_script.py --output_dir OUT --report_to hf_tracking [TrainingArguments...]
       report_to_script.py ARGS.json
"""

from __future__ import annotations

import sys

from transformers import HfArgumentParser, Trainer, TrainingArguments

from tests.support.tiny import PaddedDataset, tiny_model


def parse(argv: list[str]) -> TrainingArguments:
    parser = HfArgumentParser(TrainingArguments)
    if len(argv) == 1 and argv[0].endswith(".json"):
        (args,) = parser.parse_json_file(argv[0])
    else:
        (args,) = parser.parse_args_into_dataclasses(argv)
    return args


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    Trainer(model=tiny_model(), args=arguments, train_dataset=PaddedDataset(16)).train()
