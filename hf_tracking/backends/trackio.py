"""trackio runs: local SQLite databases that ``trackio show`` displays.

Where: trackio's own directory (``TRACKIO_DIR``, by default ``~/.cache/huggingface/trackio``),
one database per project; trackio reads ``TRACKIO_DIR`` once, when it is first imported. The
project is the config's ``project``, the run is named after the experiment.

What: every key of every record, under the same name, with an explicit ``step=`` =
``time/gradient_steps`` (trackio's own Trainer callback passes none and counts calls instead);
``final/*`` values too; the config as the run's config. trackio's CPU and GPU monitors are left
off: the records carry memory already.

Resume from step S: ``trackio.init(name=..., resume="allow")`` continues the same run (its
name and id are in :meth:`state_dict`); the points a previous session logged past S are first
deleted from the project's database, so the dashboard shows one monotonic history. A run logged
to a Space or a trackio server (``TRACKIO_SPACE_ID``, ``TRACKIO_SERVER_URL``) keeps them: only
local databases can be cut.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.flat import numeric_values
from hf_tracking.catalog import STEP_KEY

logger = logging.getLogger("hf_tracking")
REMOTE_ENVIRONMENT = ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL")


class TrackioBackend(Backend):
    name = "trackio"
    remote = True

    def __init__(self) -> None:
        self.run: Any = None
        self.project: str | None = None
        self.run_name: str | None = None
        self.run_id: str | None = None
        self.database: str | None = None
        self.rows_cut = 0
        self._saved: dict[str, Any] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"project": self.project, "name": self.run_name, "run_id": self.run_id}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._saved = dict(state)

    def start(self, run: RunInfo) -> None:
        import trackio
        from trackio.sqlite_storage import SQLiteStorage

        resumed = run.resumed_from_step is not None
        saved = self._saved if resumed else {}
        self.project = str(saved.get("project") or run.project)
        self.run_name = str(saved.get("name") or run.name)
        self.database = str(SQLiteStorage.get_project_db_path(self.project))
        if resumed and not any(os.environ.get(name) for name in REMOTE_ENVIRONMENT):
            self.rows_cut = self._cut_after(int(run.resumed_from_step or 0), saved.get("run_id"))
        self.run = trackio.init(
            project=self.project,
            name=self.run_name,
            config=run.config,
            resume="allow" if resumed else "never",
            embed=False,
            auto_log_cpu=False,
            auto_log_gpu=False,
        )
        self.run_id = getattr(self.run, "id", None)

    def _cut_after(self, step: int, run_id: Any) -> int:
        """Delete this run's points past ``step`` from the project's database; rows deleted."""
        if self.database is None or not os.path.exists(self.database):
            return 0
        column, value = ("run_id", str(run_id)) if run_id else ("run_name", self.run_name)
        with sqlite3.connect(self.database, timeout=30) as connection:
            cursor = connection.execute(
                f"DELETE FROM metrics WHERE {column} = ? AND step > ?", (value, step)
            )
            return cursor.rowcount

    def log_batch(self, records: list[Record]) -> None:
        for record in records:
            values = numeric_values(record.values)
            self.run.log(values, step=int(values.get(STEP_KEY, 0)))

    def finish(self, status: str, exit_code: int) -> None:
        if self.run is not None:
            self.run.finish()

    def info(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "run": self.run_name,
            "run_id": self.run_id,
            "database": self.database,
            "rows_cut_on_resume": self.rows_cut,
        }
