"""MLflow runs through ``mlflow-skinny``'s client, against a real tracking store.

Where: ``MLFLOW_TRACKING_URI`` when set (a server, a database), else a SQLite store
``sqlite:///{output_dir}/mlflow.db`` (``mlflow ui --backend-store-uri sqlite:///experiments/mlflow.db``).
A server's URI is tried once first (:mod:`hf_tracking.backends.mlflow_reach`): a refused
connection or login fails the start at once, naming the URI.
The experiment is ``MLFLOW_EXPERIMENT_NAME`` when set, else the config's ``project``; the MLflow
run is named after the experiment.

What: every key of every record as a metric with ``step`` = ``time/gradient_steps``, sent with
``log_batch`` on the backend's own worker thread, at most once a second (1000 metrics a call)
and at finish; ``final/*`` values too. A point equal to the previous one of its key (same step,
same value: the axes of a validation row logged at the step of a training row) is sent once.
Points wait in the backend until the store holds them: a server that stops answering (or a
store locked by another writer) is waited for, training going on, for at most ``retry_seconds``
(300 s) from its first failed call, with calls of our own to a server (one try each, whatever
MLflow's client retry settings); past that bound the backend gives up, and the summary counts
as written only the records the store holds (:mod:`hf_tracking.backends.mlflow_delivery`).
Params: the flattened config (``trainer.learning_rate``), 100 a call, values cut to 500
characters (the limit of older servers; the whole config is in the run's ``config.yaml``). Tags:
the config's tags (``tag: "true"``), notes as the run's description, ``hf_tracking.run_dir``.

Names: MLflow allows letters, digits, ``_ - . : /`` and space in a key; any other character
becomes ``_``, an empty, ``.`` or ``..`` segment between slashes becomes ``_``, and a key over
250 characters is cut to 241 and ends ``-`` + 8 hex digits of its hash (unique, never ending in
``/``). Catalog names pass unchanged. A point MLflow refuses (or whose step is not a 64-bit
integer) is lost alone: a refused call is sent again key by key, and only the keys refused again
are left out, counted in ``points_lost``.

Resume from step S: the same MLflow run continues (its id is in :meth:`state_dict`) and is set
running again. On a SQL store (the default) the points a previous session logged past S are
deleted and each metric's latest value is taken again from what is kept
(:mod:`hf_tracking.backends.mlflow_rewind`), so the run shows one history. On a store that cannot
delete points (a REST server) they stay: the metric history shows both sessions' points past S
and the run's latest value is the abandoned one until training passes it; the run gets the tag
``hf_tracking.abandoned_after_step`` = S.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.flat import flatten_config, numeric_values, record_step
from hf_tracking.backends.mlflow_delivery import RETRY_SECONDS, Delivery
from hf_tracking.backends.mlflow_reach import ServerUnreachable, StoreUnavailable, post, probe
from hf_tracking.catalog import STEP_KEY

logger = logging.getLogger("hf_tracking")
STORE_FILE = "mlflow.db"
RUN_TAG = "hf_tracking.run"
MAX_PARAM_VALUE = 500
MAX_KEY = 250
PARAMS_PER_CALL = 100
SEND_SECONDS = 1.0
RUN_STATUS = {"interrupted": "KILLED"}
# A failed start is tried again for this long (a SQLite store locked by another writer for a
# minute), with waits doubling from the first to the longest.
START_RETRY_SECONDS = 180.0
START_FIRST_WAIT = 0.5
START_MAX_WAIT = 15.0
# Errors that pass: a locked or busy store, a server that does not answer (yet).
_PASSING = re.compile(
    r"locked|busy|timed? ?out|temporar|connection|unavailable|too many|50[234]", re.IGNORECASE
)
_NOT_IN_A_KEY = re.compile(r"[^\w\-. :/]")


def mlflow_key(key: str) -> str:
    """The MLflow name of a record key or a config field (the mapping in the module docstring)."""
    segments = _NOT_IN_A_KEY.sub("_", key).split("/")
    safe = "/".join("_" if segment in ("", ".", "..") else segment for segment in segments)
    if len(safe) <= MAX_KEY:
        return safe
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: MAX_KEY - 9]}-{digest}"


def default_tracking_uri(output_dir: str) -> str:
    return f"sqlite:///{Path(output_dir).resolve().as_posix()}/{STORE_FILE}"


def _passing(error: Exception) -> bool:
    """Whether a start that failed this way may work when tried again."""
    if isinstance(error, (ImportError, ServerUnreachable)):
        return False
    return bool(_PASSING.search(f"{error!r} {error}"))


def _rest_credentials(client: Any) -> Any:
    """The credentials of the client's REST server, or None for another store (a database)."""
    from mlflow.store.tracking.rest_store import RestStore

    store = client._tracking_client.store
    return store.get_host_creds() if isinstance(store, RestStore) else None


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class MlflowBackend(Backend):
    name = "mlflow"
    remote = True

    def __init__(
        self, start_retry_seconds: float = START_RETRY_SECONDS, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self.start_retry_seconds = start_retry_seconds
        self.start_retries = 0
        self.client: Any = None
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self.resumed = False
        self.points_deleted = 0
        self._saved: dict[str, Any] = {}
        # A REST server's credentials, for the calls sent without MLflow's client retries.
        self._host_creds: Any = None
        self.delivery = Delivery(self._send, "", retry_seconds)
        # Per key, the last point sent: a point equal to it (the axes of a validation row at
        # the step of a training row) adds nothing to MLflow's history and is left out.
        self._last_point: dict[str, tuple[int, float]] = {}
        self._sent_at = 0.0
        self.points_lost = 0

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "tracking_uri": self.tracking_uri}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._saved = dict(state)

    def start(self, run: RunInfo) -> None:
        """Open (or resume) the MLflow run. A start that fails for a passing reason (a SQLite
        store locked by another writer, a server not answering yet) is tried again after 0.5,
        1, 2, ... seconds (at most ``START_MAX_WAIT``), for at most ``start_retry_seconds`` from
        the first failure; records wait in the backend's queue meanwhile."""
        deadline, wait = None, START_FIRST_WAIT
        while True:
            try:
                self._start(run)
                return
            except Exception as error:
                now = time.monotonic()
                deadline = now + self.start_retry_seconds if deadline is None else deadline
                if not _passing(error) or now + wait > deadline:
                    raise
                self.start_retries += 1
                if self.start_retries == 1:
                    logger.warning(
                        "hf_tracking: MLflow did not start (%s: %s); trying again for up to %g s",
                        type(error).__name__,
                        error,
                        self.start_retry_seconds,
                    )
            time.sleep(wait)
            wait = min(2 * wait, START_MAX_WAIT)

    def _start(self, run: RunInfo) -> None:
        """The start, from where a failed try left it (no second run, no second experiment)."""
        from mlflow.tracking import MlflowClient

        self.tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(
            run.output_dir
        )
        Path(run.output_dir).mkdir(parents=True, exist_ok=True)
        if self.client is None:
            if self.tracking_uri.startswith(("http://", "https://")):
                probe(self.tracking_uri)  # a wrong URI or login said now, not at finish
            self.client = MlflowClient(tracking_uri=self.tracking_uri)
            self.delivery.store = self.tracking_uri
            self._host_creds = _rest_credentials(self.client)
        if self.experiment_id is None:
            experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or run.project
            self.experiment_id = self._experiment(experiment_name)
        if self.run_id is not None:  # made by a try that failed after it
            logged = self.client.get_run(self.run_id).data.params
            self._log_params(flatten_config(run.config), logged)
            return
        existing = self._run_to_resume(run)
        if existing is None:
            tags = {RUN_TAG: run.name, "hf_tracking.run_dir": run.run_dir}
            tags.update({mlflow_key(tag): "true" for tag in run.tags})
            if run.notes:
                tags["mlflow.note.content"] = run.notes
            created = self.client.create_run(self.experiment_id, run_name=run.name, tags=tags)
            self.run_id = created.info.run_id
            logged: Mapping[str, str] = {}
        else:
            self.run_id, self.resumed = existing.info.run_id, True
            self.client.update_run(self.run_id, status="RUNNING")
            self._drop_points_after(int(run.resumed_from_step or 0))
            logged = existing.data.params
        self._log_params(flatten_config(run.config), logged)

    def _experiment(self, name: str) -> str:
        """The id of experiment ``name``, made where it does not exist; one that another run
        made meanwhile (two machines of a team starting at once) is taken as it is."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _run_to_resume(self, run: RunInfo) -> Any:
        """The MLflow run of the session this one resumes: by its saved id, else by name."""
        if run.resumed_from_step is None:
            return None
        saved_id = self._saved.get("run_id")
        if saved_id and self._saved.get("tracking_uri") in (None, self.tracking_uri):
            try:
                return self.client.get_run(str(saved_id))
            except Exception as error:
                logger.warning("hf_tracking: MLflow run %s not found (%s)", saved_id, error)
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{RUN_TAG}` = '{run.name}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return found[0] if found else None

    def _drop_points_after(self, step: int) -> None:
        from hf_tracking.backends.mlflow_rewind import delete_points_after

        deleted = delete_points_after(self.client, self.run_id, step)
        if deleted is None:
            self.client.set_tag(self.run_id, "hf_tracking.abandoned_after_step", str(step))
            logger.warning(
                "hf_tracking: this MLflow store cannot delete the points past step %d; the "
                "history of run %s keeps them (tagged hf_tracking.abandoned_after_step)",
                step,
                self.run_id,
            )
        else:
            self.points_deleted = deleted

    def _log_params(self, config: dict[str, Any], logged: Mapping[str, str]) -> None:
        """MLflow params cannot change once logged: a resumed run adds only new ones."""
        from mlflow.entities import Param

        params = {}
        for key, value in config.items():
            name = mlflow_key(key)
            if name not in logged:
                params[name] = Param(name, str(value)[:MAX_PARAM_VALUE])
        for chunk in _chunks(list(params.values()), PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=chunk)

    def log_batch(self, records: list[Record]) -> None:
        """Points are sent at most once a second (and at finish): a call costs MLflow's SQL
        store tens of milliseconds whatever its size, so one call for a second of steps rather
        than one per step."""
        from mlflow.entities import Metric

        if self.delivery.gave_up:
            raise StoreUnavailable(self.delivery.gave_up)
        timestamp = int(time.time() * 1000)
        for record in records:
            values = numeric_values(record.values)
            step = record_step(values, STEP_KEY)
            points = []
            if step is None:
                self.points_lost += len(values)
                values = {}
            for key, value in values.items():
                name = mlflow_key(key)
                if self._last_point.get(name) != (step, value):
                    self._last_point[name] = (step, value)
                    points.append(Metric(name, value, timestamp, step))
            self.delivery.add(points)
        if time.monotonic() - self._sent_at >= SEND_SECONDS:
            self._sent_at = time.monotonic()
            self.delivery.flush()
        if self.delivery.gave_up:
            raise StoreUnavailable(self.delivery.gave_up)

    def _send(self, chunk: list[Any]) -> None:
        """One call of the delivery; a point the store refuses is left out alone."""
        try:
            self._log_metrics(chunk)
        except StoreUnavailable:
            raise
        except Exception as error:
            self._send_by_key(chunk, error)

    def _log_metrics(self, metrics: list[Any]) -> None:
        if self._host_creds is None:
            try:
                self.client.log_batch(self.run_id, metrics=metrics)
            except Exception as error:
                if _passing(error):
                    raise StoreUnavailable(f"{type(error).__name__}: {error}") from error
                raise
            return
        from mlflow.protos.service_pb2 import LogBatch
        from mlflow.utils.proto_json_utils import message_to_json

        body = LogBatch(run_id=self.run_id, metrics=[metric.to_proto() for metric in metrics])
        post(self._host_creds, "/api/2.0/mlflow/runs/log-batch", json.loads(message_to_json(body)))

    def _send_by_key(self, chunk: list[Any], error: Exception) -> None:
        """A refused call again, one key a call: only the keys refused again are lost. When
        every key is refused the store itself is failing and the first error is raised."""
        by_key: dict[str, list[Any]] = {}
        for metric in chunk:
            by_key.setdefault(metric.key, []).append(metric)
        refused = 0
        for key, metrics in by_key.items():
            try:
                self._log_metrics(metrics)
            except StoreUnavailable:
                raise
            except Exception as again:
                refused += 1
                self.points_lost += len(metrics)
                logger.warning("hf_tracking: MLflow refused metric %r (%s)", key, again)
        if refused == len(by_key) and len(by_key) > 1:
            raise error

    def finish(self, status: str, exit_code: int) -> None:
        """Send what waits (through an outage, within the delivery's bound), then end the run."""
        if self.client is None or self.run_id is None:
            return
        state = "FINISHED" if exit_code == 0 else RUN_STATUS.get(status, "FAILED")
        try:
            self.delivery.flush(finishing=True)
            if self.delivery.gave_up:
                raise StoreUnavailable(self.delivery.gave_up)
        except Exception:
            state = "FAILED" if state == "FINISHED" else state
            raise
        finally:
            if not self.delivery.stopped:
                self._terminate(state)

    def _terminate(self, state: str) -> None:
        """The run's end status; tried once, without MLflow's client retries, where the store
        has stopped answering (the error raised is the delivery's)."""
        if not self.delivery.gave_up:
            self.client.set_terminated(self.run_id, status=state)
            return
        body = {"run_id": self.run_id, "status": state, "end_time": int(time.time() * 1000)}
        with contextlib.suppress(Exception):
            if self._host_creds is None:
                self.client.set_terminated(self.run_id, status=state)
            else:
                post(self._host_creds, "/api/2.0/mlflow/runs/update", body)

    def kill(self) -> None:
        self.delivery.stopped = True

    def health(self) -> str | None:
        return self.delivery.gave_up

    def acknowledged(self) -> int | None:
        """Records whose points the store holds (a point it refused counts in ``points_lost``)."""
        return self.delivery.records_delivered

    def info(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "resumed": self.resumed,
            "points_deleted_on_resume": self.points_deleted,
            "points_lost": self.points_lost,
            "start_retries": self.start_retries,
            **self.delivery.info(),
        }
