"""A tiny GPT-2 and padded token data for tests that drive a real Trainer on the CPU."""

from __future__ import annotations

from typing import Any

VOCAB = 64
PAD = 0
SEQ = 16


def tiny_model(seed: int = 0) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=SEQ,
        n_embd=32,
        n_layer=2,
        n_head=2,
        pad_token_id=PAD,
        bos_token_id=VOCAB - 1,
        eos_token_id=VOCAB - 1,
    )
    return GPT2LMHeadModel(config)


class PaddedDataset:
    """Samples of varying length, right-padded to ``seq_length``, labels -100 on padding."""

    def __init__(
        self, size: int = 64, seed: int = 0, seq_length: int = SEQ, vocab_size: int = VOCAB
    ) -> None:
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.samples = []
        for index in range(size):
            length = 4 + index % (seq_length - 4)
            ids = torch.randint(1, vocab_size, (length,), generator=generator)
            input_ids = torch.full((seq_length,), PAD)
            input_ids[:length] = ids
            mask = torch.zeros(seq_length, dtype=torch.long)
            mask[:length] = 1
            labels = input_ids.clone()
            labels[length:] = -100
            self.samples.append({"input_ids": input_ids, "attention_mask": mask, "labels": labels})

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.samples[index]

    def real_tokens(self) -> int:
        return int(sum(sample["attention_mask"].sum() for sample in self.samples))


def training_arguments(output_dir: str, **overrides: Any) -> Any:
    from transformers import TrainingArguments

    settings: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "gradient_accumulation_steps": 2,
        "max_steps": 12,
        "learning_rate": 1e-3,
        "logging_steps": 2,
        "eval_strategy": "steps",
        "eval_steps": 4,
        "save_strategy": "steps",
        "save_steps": 6,
        "report_to": "hf_tracking",
        "use_cpu": True,
        "dataloader_num_workers": 0,
        "seed": 0,
        "disable_tqdm": True,
    }
    settings.update(overrides)
    return TrainingArguments(**settings)
