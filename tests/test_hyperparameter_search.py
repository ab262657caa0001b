"""``Trainer.hyperparameter_search`` with optuna: each trial is a run of its own, and its
checkpoint events name the directories the trial really saved into (``out/run-<trial>/...``),
with their sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.runs import metrics_rows, strict_json

pytestmark = pytest.mark.slow
TRIALS = 2


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    import optuna
    from transformers import Trainer

    from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

    directory = tmp_path_factory.mktemp("search")
    args = training_arguments(
        str(directory / "out"),
        gradient_accumulation_steps=1,
        max_steps=3,
        logging_steps=3,
        eval_strategy="no",
        save_steps=3,
    )
    trainer = Trainer(
        model_init=lambda: tiny_model(),
        args=args,
        train_dataset=PaddedDataset(12),
        eval_dataset=PaddedDataset(8, seed=1),  # each trial's objective: its evaluation loss
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        patch.setenv("HF_TRACKING_BACKENDS", "local")
        trainer.hyperparameter_search(
            hp_space=lambda trial: {
                "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)
            },
            backend="optuna",
            n_trials=TRIALS,
            direction="minimize",
            sampler=optuna.samplers.RandomSampler(seed=0),
        )
    summaries = [strict_json(path) for path in (directory / "experiments").glob("*_summary.json")]
    return directory, sorted(summaries, key=lambda summary: summary["checkpoints"][0]["path"])


def test_each_trial_is_a_run_whose_checkpoint_is_the_trials_own(search):
    directory, summaries = search
    assert len(summaries) == TRIALS
    for trial, summary in enumerate(summaries):
        (entry,) = summary["checkpoints"]
        expected = directory / "out" / f"run-{trial}" / "checkpoint-3"
        assert expected.is_dir()
        assert Path(entry["path"]).resolve() == expected.resolve()
        assert entry["step"] == 3 and entry["size_bytes"] > 0
        (row,) = [row for row in metrics_rows(summary["run_dir"]) if row["event"] == "checkpoint"]
        assert row["checkpoint/size_mb"] == pytest.approx(entry["size_bytes"] / 1e6)
        assert summary["totals"]["gradient_steps"] == 3
