"""Recipes: one YAML file → an ExperimentConfig, a training plan and a data plan, and the builders
that turn them into a tokenizer, datasets, a GPT-2 model, TrainingArguments and a Trainer.

A recipe holds the :class:`ExperimentConfig` fields at top level, a ``training:`` section
(:class:`TrainingSettings`) and a ``data:`` section (:class:`DataSettings`). Unknown keys anywhere
raise :class:`ConfigError` with the closest known key. ``--set key=value`` overrides a config
field (``learning_rate=1e-3``) or a section key (``training.max_steps=6``, ``data.streaming=true``);
values are read as YAML.

The training plan and the config are made to agree when the recipe is loaded: ``max_steps``
(default ``num_iterations``), ``logging_steps`` (default ``log_every_steps``), ``eval_steps`` and
``save_steps`` are written back into the config, so the run's stored config says what ran.

Files, under the config's ``output_dir`` (default ``experiments``):

| path | what |
| --- | --- |
| ``{output_dir}/{experiment_name}/``, ``{experiment_name}_summary.json`` | the run (tracker) |
| ``{output_dir}/checkpoints/{experiment_name}/`` | the Trainer's ``output_dir``: checkpoints |
| ``{output_dir}/tokenizers/{key}/`` | locally trained tokenizers, reused by later runs |

When ``experiment_name`` is not set it is ``config.default_name()`` (size, dataset, type and a
time stamp), chosen once by the main process and shared with the others.
"""

from hf_tracking.recipe.data import (
    build_datasets,
    build_tokenizer,
    is_hub_error,
    load_texts,
    pack,
    tokenizer_cache_dir,
    train_bpe,
)
from hf_tracking.recipe.settings import (
    END_OF_TEXT,
    DataSettings,
    HubUnreachable,
    Recipe,
    TrainingSettings,
    load_recipe,
    parse_override,
    recipe_from_dict,
)
from hf_tracking.recipe.trainer import (
    build_model,
    build_trainer,
    build_training_arguments,
    gpt2_config,
    precision_flags,
    resolve_experiment_name,
)

__all__ = [
    "END_OF_TEXT",
    "DataSettings",
    "HubUnreachable",
    "Recipe",
    "TrainingSettings",
    "build_datasets",
    "build_model",
    "build_tokenizer",
    "build_trainer",
    "build_training_arguments",
    "gpt2_config",
    "is_hub_error",
    "load_recipe",
    "load_texts",
    "pack",
    "parse_override",
    "precision_flags",
    "recipe_from_dict",
    "resolve_experiment_name",
    "tokenizer_cache_dir",
    "train_bpe",
]
