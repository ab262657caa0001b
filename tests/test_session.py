"""The run session: run directories, summary ownership, an unusable output directory."""

from __future__ import annotations

import os
from pathlib import Path

from hf_tracking.backends import LocalRunStore, RunInfo
from hf_tracking.backends.base import Backend
from hf_tracking.session import RunSession
from tests.support.configs import FakeClock


class Remote(Backend):
    name = "remote"

    def log_batch(self, records) -> None:
        pass


def run_info(name: str, run_dir: Path | None) -> RunInfo:
    return RunInfo(name, str(run_dir), "out", "project", None, [], "", {})


def opened(output_dir: Path, name: str, resuming: bool = False, backends=None) -> RunSession:
    session = RunSession(str(output_dir), backends or [LocalRunStore()], finish_timeout=5)
    session.name = session.open(name, resuming, run_info, track_memory=False, queue_size=100)
    return session


def close(session: RunSession) -> None:
    session.close("finished", 0, lambda: None, wait=True)


def test_each_new_run_gets_a_fresh_directory_and_a_resume_reuses_it(tmp_path):
    first, second = opened(tmp_path, "run"), opened(tmp_path, "run")
    assert (first.name, second.name) == ("run", "run_1")
    assert second.summary_path == tmp_path / "run_1_summary.json"
    close(first)
    resumed = opened(tmp_path, "run", resuming=True)
    assert resumed.run_dir == tmp_path / "run" and resumed.forked_from is None
    for session in (second, resumed):
        close(session)


def test_a_resume_of_a_run_still_written_goes_on_in_a_run_of_its_own(tmp_path, caplog):
    """Resumed while the process still writes it: a sibling run, said once; both finish."""
    first = opened(tmp_path, "run")
    resumed = opened(tmp_path, "run", resuming=True)
    assert resumed.name == f"run.conflict-{os.getpid()}" and resumed.forked_from == first.run_dir
    assert resumed.run_dir == tmp_path / resumed.name
    assert resumed.summary_path == tmp_path / f"{resumed.name}_summary.json"
    assert "goes on in a run of its own" in caplog.text
    assert [report["error"] for report in resumed.backend_reports()] == [None]
    for session in (first, resumed):
        close(session)


def test_a_relative_output_dir_is_absolute_from_the_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = RunSession("runs", [], finish_timeout=1)
    assert session.output_dir == tmp_path / "runs"


def test_only_the_last_session_on_a_summary_path_writes_it(tmp_path):
    first = opened(tmp_path, "run")
    close(first)  # its local store is done; a late summary rewrite (after W&B) may still come
    resumed = opened(tmp_path, "run", resuming=True)
    assert not first._write_if_owner(first.summary_path, None)  # never built: not the owner
    assert resumed.summary_path == first.summary_path
    close(resumed)


def test_an_unusable_output_dir_keeps_the_remote_backends(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    session = opened(blocker / "runs", "run", backends=[LocalRunStore(), Remote()])
    assert session.run_dir is None and session.summary_path is None
    assert session.error.startswith("run directory: ")
    assert [report["name"] for report in session.backend_reports()] == ["remote"]
    assert session.close("finished", 0, FakeClock(), wait=True) is None
