"""What a resume leaves in the summary and the file: a changed config said and kept, one
``resume`` row per counted resume, and an end never before the start."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.runs import metrics_rows, strict_json
from tests.support.stores import config


def session(tmp_path, state: dict | None, steps: int, **overrides) -> ExperimentTracker:
    tracker = ExperimentTracker(config(tmp_path, **overrides), backends=[LocalRunStore()])
    if state is not None:
        tracker.load_state_dict(state)
    for _ in range(steps):
        tracker.log_train_step(loss=1.0, tokens=4)
    return tracker


def test_a_resume_with_another_config_says_so_and_keeps_both(tmp_path, caplog):
    first = session(tmp_path, None, 3, learning_rate=1e-3)
    state = first.state_dict()
    first.finish()
    resumed = session(tmp_path, state, 2, learning_rate=3e-4, batch_size=16)
    summary = strict_json(resumed.finish())
    assert summary["config"]["learning_rate"] == 3e-4
    (earlier,) = summary["earlier_configs"]
    assert earlier["until_step"] == 3
    assert (earlier["config"]["learning_rate"], earlier["config"]["batch_size"]) == (1e-3, 32)
    assert "resumed from step 3 with a config that differs" in caplog.text
    assert "batch_size: 32 -> 16; learning_rate: 0.001 -> 0.0003" in caplog.text
    same = session(tmp_path, resumed.state_dict(), 1, learning_rate=3e-4, batch_size=16)
    assert strict_json(same.finish())["earlier_configs"] == [earlier]  # kept, none added


def test_totals_resumes_equals_the_resume_rows(tmp_path):
    """Two sessions resume from one checkpoint (the first was abandoned), then a third resumes
    from the second's checkpoint."""
    first = session(tmp_path, None, 4)
    at_two = json.loads(json.dumps(first.state_dict()))
    first.finish()
    counts = []
    second = session(tmp_path, at_two, 3)
    second.finish()
    again = session(tmp_path, at_two, 3)
    at_five = again.state_dict()
    again.finish()
    for state in (at_two, at_five):
        tracker = session(tmp_path, state, 2)
        summary = strict_json(tracker.finish())
        resume_rows = [r for r in metrics_rows(tracker.run_dir) if r["event"] == "resume"]
        counts.append((summary["totals"]["resumes"], len(resume_rows)))
        assert [r["resume/count"] for r in resume_rows] == list(range(1, len(resume_rows) + 1))
    assert counts == [(1, 1), (2, 2)]


def test_a_clock_set_back_between_sessions_never_ends_a_run_before_it_started(tmp_path):
    first = session(tmp_path, None, 2)
    state = first.state_dict()
    first.finish()
    # The first session's clock was a day ahead of this one's (set back since).
    ahead = datetime.now(timezone.utc) + timedelta(days=1)
    state["started_at"] = ahead.isoformat(timespec="seconds")
    summary = strict_json(session(tmp_path, state, 2).finish())
    started = datetime.fromisoformat(summary["started_at"])
    assert datetime.fromisoformat(summary["ended_at"]) >= started
