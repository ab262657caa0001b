"""Cutting an MLflow run's metric history back to a step, on a SQL tracking store.

MLflow has no public call that deletes metric points, and its latest value of a metric is the
point with the highest step, so a run resumed from an earlier checkpoint would otherwise keep
the abandoned points as its latest values. On a SQL store (SQLite by default, or any database
URI) the points past the step are deleted and each affected latest value is taken again from the
points kept, in one transaction, through MLflow's own store models.
"""

from __future__ import annotations

from typing import Any


def delete_points_after(client: Any, run_id: str, step: int) -> int | None:
    """Delete ``run_id``'s metric points past ``step``; the number deleted, or None when the
    client's store is not a SQL store."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = client._tracking_client.store
    if not isinstance(store, SqlAlchemyStore):
        return None
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

    try:
        transaction = store.ManagedSessionMaker(read_only=False)
    except TypeError:  # MLflow before 3.x: every session may write
        transaction = store.ManagedSessionMaker()
    with transaction as session:
        deleted = (
            session.query(SqlMetric)
            .filter(SqlMetric.run_uuid == run_id, SqlMetric.step > step)
            .delete(synchronize_session=False)
        )
        stale = (
            session.query(SqlLatestMetric)
            .filter(SqlLatestMetric.run_uuid == run_id, SqlLatestMetric.step > step)
            .all()
        )
        for latest in stale:
            kept = (
                session.query(SqlMetric)
                .filter(SqlMetric.run_uuid == run_id, SqlMetric.key == latest.key)
                .order_by(SqlMetric.step.desc(), SqlMetric.timestamp.desc(), SqlMetric.value.desc())
                .first()
            )
            if kept is None:
                session.delete(latest)
            else:
                latest.value, latest.step = kept.value, kept.step
                latest.timestamp, latest.is_nan = kept.timestamp, kept.is_nan
    return int(deleted)
