#!/usr/bin/env bash
# The main job: train the tiny recipe on the CPU, offline, and make its report.
# bash scripts/run_tiny.sh [train.py arguments, e.g. --set training.max_steps=50]
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export WANDB_MODE="${WANDB_MODE:-offline}"
exec "$PY" scripts/train.py recipes/tiny.yaml --offline "$@"
