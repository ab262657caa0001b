"""Secret values never reach a file or a backend: known values and credential shapes masked."""

from __future__ import annotations

import pytest

from hf_tracking import ExperimentConfig, ExperimentTracker, redact
from hf_tracking.backends import LocalRunStore, WandbBackend
from tests.support.wandb_reader import find_offline_runs, wait_for_exit

SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}
# No credential shape: only its being HF_TOKEN's value can get it masked.
HF_TOKEN_VALUE = "Zq9vPlainLookingValue7781x"
SHAPED = {
    "openai": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "hub": "hf_abcdefghijklmnopqrstuvwxyzAB",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "url_password": "hunter2hunter2",
    "url_password_with_slash": "Pa/ss@w0rd/7",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.payload.signature",
}


def every_file_under(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()]


def test_secret_values_never_reach_any_file_or_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN_VALUE)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_dir"))
    notes = (
        f"token {HF_TOKEN_VALUE}; key {SHAPED['openai']}; {SHAPED['hub']}; {SHAPED['github']}; "
        f"https://user:{SHAPED['url_password']}@example.com/x; "
        f"sqlite-over-http://mlflow:{SHAPED['url_password_with_slash']}@db.example:5432/x; "
        f"Authorization: Bearer {SHAPED['bearer']}"
    )
    config = ExperimentConfig(
        **SMALL,
        output_dir=str(tmp_path / "experiments"),
        experiment_name="secrets",
        log_every_steps=1,
        wandb_mode="offline",
        track_memory=False,
        tags=[f"tag-{HF_TOKEN_VALUE}", SHAPED["hub"]],
        notes=notes,
    )
    extra = {"private_key": "-----BEGIN KEY----- abcdefgh", "db_url": "postgres://u:pw12345678@db"}
    tracker = ExperimentTracker(
        config, backends=[LocalRunStore(), WandbBackend()], extra_config=extra
    )
    with pytest.raises(RuntimeError), tracker:
        for _ in range(3):
            tracker.log_train_step(loss=1.0, tokens=1)
        tracker.log_custom_metric(f"eval/{HF_TOKEN_VALUE}", 0.5)
        tracker.log_custom_metric(f"eval/{SHAPED['openai']}", 0.5)
        tracker.log_checkpoint(tmp_path / f"checkpoint-{HF_TOKEN_VALUE}")
        raise RuntimeError(f"push failed with token {HF_TOKEN_VALUE}")
    tracker.wait_for_backends(60)
    (offline_dir,) = find_offline_runs(tmp_path)
    run = wait_for_exit(offline_dir)
    assert run.exit_code == 1 and len(run.history) == 6
    files = every_file_under(tmp_path)
    assert any(path.suffix == ".wandb" for path in files)
    assert any(path.name == "metrics.jsonl" for path in files)
    assert any(path.name.endswith("_summary.json") for path in files)
    secrets = [HF_TOKEN_VALUE, *SHAPED.values(), "abcdefgh", "pw12345678"]
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret} in {path}"
    summary = (tmp_path / "experiments" / "secrets_summary.json").read_text()
    assert "push failed with token ***redacted***" in summary
    metrics = (tmp_path / "experiments" / "secrets" / "metrics.jsonl").read_text()
    assert '"eval/***redacted***"' in metrics


def test_mask_text_and_redact():
    redact.add_secret("a-known-secret-value")
    assert redact.mask_text("x a-known-secret-value y") == "x ***redacted*** y"
    assert redact.mask_text("short") == "short"
    assert redact.mask_text("https://me:pass1234@host/p") == "https://***redacted***@host/p"
    assert redact.mask_text("Bearer abcdefghijkl") == "***redacted***"
    assert redact.mask_text("AKIAABCDEFGHIJKLMNOP") == "***redacted***"
    assert redact.mask_text("hf_tracking, sk-learn, pad_token_id") == (
        "hf_tracking, sk-learn, pad_token_id"
    )
    config = {
        "authorization": "Basic xyz",
        "private_key": "k" * 12,
        "pad_token_id": 0,
        "include_num_input_tokens_seen": "no",
        "nested": [{"client_secret": "s" * 10, "note": "uses " + "k" * 12}],
        "lr": 1e-3,
    }
    redacted = redact.redact(config)
    assert redacted["authorization"] == redacted["private_key"] == redact.REDACTED
    assert redacted["nested"][0] == {
        "client_secret": redact.REDACTED,
        "note": "uses ***redacted***",
    }
    assert (redacted["pad_token_id"], redacted["lr"]) == (0, 1e-3)
    assert redacted["include_num_input_tokens_seen"] == "no"


def test_url_passwords_holding_slashes_and_at_signs():
    cases = {
        "postgresql://me:se/cr@t@db.example:5432/mlflow": "db.example:5432/mlflow",
        "'https://u:a/b/c@host'": "host'",
        "mysql://a:b/c@[::1]:3306/db": "[::1]:3306/db",
    }
    for text, rest in cases.items():
        assert redact.mask_text(text).endswith(f"://{redact.REDACTED}@{rest}")
    for plain in ("http://host:8080/path/x", "https://example.com/a:b", "git@github.com:x/y"):
        assert redact.mask_text(plain) == plain


def test_environment_names_that_hold_secrets(monkeypatch):
    values = {
        "WANDB_API_KEY": "0123456789abcdef0123",
        "MY_SERVICE_TOKEN": "tokvalue-111",
        "DB_PASSWORD": "pwvalue-222",
        "AWS_SECRET_ACCESS_KEY": "awsvalue-333",
        "CLIENT_SECRET": "secretvalue-444",
        "TOKENIZERS_PARALLELISM": "falsefalse",  # not a secret: kept
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    text = " ".join(values.values())
    assert redact.mask_text(text) == " ".join([redact.REDACTED] * 5 + ["falsefalse"])


def test_a_record_without_secrets_is_passed_through_untouched():
    values = {"time/gradient_steps": 1, "train/loss": 1.0}
    assert redact.mask_record(values) is values


def test_the_writers_rescan_cadence_delays_only_environment_changes(monkeypatch):
    redact.current_pattern()
    monkeypatch.setenv("LATE_SERVICE_TOKEN", "late-value-0123")
    cached = redact.current_pattern(max_age=3600.0)
    assert redact.mask_text("late-value-0123", cached) == "late-value-0123"
    assert redact.mask_text("late-value-0123", redact.current_pattern()) == redact.REDACTED
    redact.add_secret("added-value-4567")  # takes effect at once, whatever the cadence
    assert redact.mask_text("added-value-4567", redact.current_pattern(3600.0)) == redact.REDACTED
