"""Training health: the detectors' windows, their episodes, the alerts so far and the stop asked for.

It reads each training row as the row is built (on the writer thread, from values the logging step
read already: no device sync of its own) and returns the alerts that row starts. An alert fires once
per episode: a kind stays quiet while its condition holds and may fire again once it has cleared.

| kind | fires when (defaults from the config, sources in :mod:`hf_tracking.metrics.spikes`) |
| --- | --- |
| ``nonfinite_loss`` | the row's loss is NaN/inf, or a micro-batch loss was (the Trainer's NaN filter hides those from the logged loss; the callback counts them on the device) |
| ``nonfinite_grad_norm`` | the row's grad norm is NaN/inf |
| ``loss_spike`` | ``spike_patience`` rows in a row at ≥ ``spike_ratio`` × the window mean, or one row above mean + ``zscore_sigmas`` σ |
| ``grad_norm_spike`` | the same two rules on ``train/grad_norm`` |
| ``input_bound`` | the data-loader wait over ``input_bound_pct`` % of step time, summed over the last ``input_bound_rows`` rows (one slow fetch among them does not fire it) |

Its state (windows, counters, alerts) is part of the tracker's checkpoint state, so a resumed run
keeps its baselines and its alerts. Episodes are not: a resumed session starts with every kind armed,
so a fault still there after a resume (from the checkpoint ``checkpoint_and_stop`` left, say) is
reported, and acted on, again.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from hf_tracking.catalog import (
    ALERT_KIND,
    GRAD_NORM,
    STEP_KEY,
    TOKENS_KEY,
    TRAIN_LOSS,
    WALLCLOCK_KEY,
)
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.spikes import (
    Verdict,
    ratio_rule,
    ratio_window_size,
    wait_share_pct,
    zscore_rule,
)

# Alerts the summary keeps (the first ones: the run's story starts there).
MAX_ALERTS = 100


class SpikeWatch:
    """Both spike rules over one signal's logged values (finite ones only)."""

    def __init__(self, config: Any, planned_values: int | None) -> None:
        self.ratio = config.spike_ratio
        self.ratio_window = ratio_window_size(config.spike_window, planned_values)
        self.patience = config.spike_patience
        self.sigmas = config.zscore_sigmas
        self.zscore_window = config.zscore_window
        self.zscore_min = config.zscore_min_values
        self.values: deque[float] = deque(maxlen=max(self.ratio_window, self.zscore_window))
        self.outliers = 0  # ratio-rule outliers in a row

    def observe(self, value: float) -> tuple[Verdict | None, bool]:
        """(the verdict that makes ``value`` a spike or None, whether either rule calls it an
        outlier: an episode goes on while they do); the value joins the window."""
        values = self.values
        spike, outlier = None, False
        if len(values) >= self.ratio_window:
            verdict = ratio_rule(value, _last(values, self.ratio_window), self.ratio)
            self.outliers = self.outliers + 1 if verdict.outlier else 0
            outlier = verdict.outlier
            if self.outliers >= self.patience:
                spike = verdict
        if spike is None and len(values) >= self.zscore_min:
            verdict = zscore_rule(value, _last(values, self.zscore_window), self.sigmas)
            if verdict.outlier:
                spike, outlier = verdict, True
        if not outlier:
            values.append(value)
        return spike, outlier


def _last(values: deque[float], count: int) -> list[float]:
    return list(values)[-count:] if len(values) > count else list(values)


class HealthMonitor:
    def __init__(self, config: Any, planned_steps: int | None) -> None:
        self.enabled = config.health_checks
        self.on_alert = config.on_alert
        self.input_pct = config.input_bound_pct
        # (data wait, training) seconds between consecutive rows, the last input_bound_rows.
        self.spans: deque[tuple[float, float]] = deque(maxlen=config.input_bound_rows)
        planned_rows = planned_steps // config.log_every_steps if planned_steps else None
        self.watches = {
            TRAIN_LOSS: SpikeWatch(config, planned_rows),
            GRAD_NORM: SpikeWatch(config, planned_rows),
        }
        self.open: set[str] = set()  # kinds whose episode is still going on
        self.last_seconds: tuple[float, float] | None = None  # (data wait, train) at the last row
        self.alerts: list[dict[str, Any]] = []
        self.alert_count = 0
        self.stop: dict[str, Any] | None = None  # the alert that asks the run to stop

    @property
    def acts(self) -> bool:
        """Whether an alert stops the run (the decision is then made on the training thread)."""
        return self.enabled and self.on_alert != "warn"

    def check(
        self,
        values: Mapping[str, Any],
        hidden_nonfinite: int,
        seconds: Mapping[str, float],
        checkpoints: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """The alerts a training row starts. ``hidden_nonfinite``: micro-batch losses that were
        NaN/inf in the row's window; ``seconds``: the time ledger at the row; ``checkpoints``:
        those saved before the row (the last with an earlier step is the last good one)."""
        if not self.enabled:
            return []
        loss, grad_norm = values.get(TRAIN_LOSS), values.get(GRAD_NORM)
        found: dict[str, tuple[float | None, float | None, float | None, str]] = {}
        ongoing: set[str] = set()  # spike kinds whose values are still outliers
        if (loss is not None and not math.isfinite(loss)) or hidden_nonfinite:
            shown = loss if loss is None or not math.isfinite(loss) else math.nan
            found["nonfinite_loss"] = (
                shown,
                None,
                None,
                f"{hidden_nonfinite} micro-batch loss(es) were NaN/inf"
                if hidden_nonfinite
                else f"train/loss is {loss}",
            )
        if grad_norm is not None and not math.isfinite(grad_norm):
            found["nonfinite_grad_norm"] = (
                grad_norm,
                None,
                None,
                f"train/grad_norm is {grad_norm}",
            )
        for key, kind in ((TRAIN_LOSS, "loss_spike"), (GRAD_NORM, "grad_norm_spike")):
            value = values.get(key)
            if value is None or not math.isfinite(value):
                continue
            if key == TRAIN_LOSS and hidden_nonfinite:
                continue  # the filter's stand-in for the lost loss, not a loss: kept out
            verdict, outlier = self.watches[key].observe(value)
            if outlier:
                ongoing.add(kind)
            if verdict is not None:
                found[kind] = (
                    value,
                    verdict.baseline,
                    verdict.threshold,
                    _spike_text(key, value, verdict),
                )
        share = self._wait_share(seconds)
        if share is not None and share >= self.input_pct:
            found["input_bound"] = (
                share,
                None,
                self.input_pct,
                f"{share:.1f}% of step time over the last {len(self.spans)} rows waited for the "
                f"data loader (threshold {self.input_pct:g}%)",
            )
        return self._episodes(found, ongoing | set(found), values, checkpoints)

    def _wait_share(self, seconds: Mapping[str, float]) -> float | None:
        """The wait share over the last ``input_bound_rows`` rows, once that many are known."""
        now = (seconds.get("data_wait", 0.0), seconds.get("train", 0.0))
        last, self.last_seconds = self.last_seconds, now
        if last is not None:
            self.spans.append((now[0] - last[0], now[1] - last[1]))
        if len(self.spans) < (self.spans.maxlen or 0):
            return None
        return wait_share_pct(sum(s[0] for s in self.spans), sum(s[1] for s in self.spans))

    def _episodes(
        self,
        found: Mapping[str, tuple[Any, Any, Any, str]],
        ongoing: set[str],
        values: Mapping[str, Any],
        checkpoints: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        step = values.get(STEP_KEY, 0)
        self.open &= ongoing  # episodes whose condition cleared are over
        fired = []
        for kind, (value, baseline, threshold, text) in found.items():
            if kind in self.open:
                continue
            self.open.add(kind)
            good = [entry for entry in checkpoints if entry.get("step", step) < step]
            alert = {
                "kind": kind,
                "step": step,
                "value": value,
                "baseline": baseline,
                "threshold": threshold,
                "message": f"{kind} at step {step}: {text}",
                "checkpoint": good[-1]["path"] if good else None,
                "wallclock_hours": values.get(WALLCLOCK_KEY),
                "tokens_seen": values.get(TOKENS_KEY),
            }
            self.alert_count += 1
            if len(self.alerts) < MAX_ALERTS:
                self.alerts.append(alert)
            if self.stop is None and self.on_alert != "warn":
                self.stop = alert
            fired.append(alert)
        return fired

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "windows": {key: list(watch.values) for key, watch in self.watches.items()},
            "outliers": {key: watch.outliers for key, watch in self.watches.items()},
            "spans": [list(span) for span in self.spans],
            "last_seconds": list(self.last_seconds) if self.last_seconds else None,
            "alerts": [dict(alert) for alert in self.alerts],
            "alert_count": self.alert_count,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Take a saved state (absent in states saved before training health existed)."""
        if not state:
            return
        try:
            for key, values in (state.get("windows") or {}).items():
                watch = self.watches[key]
                watch.values.extend(float(value) for value in values)
                watch.outliers = int(state.get("outliers", {}).get(key, 0))
            self.spans.extend((float(a), float(b)) for a, b in state.get("spans", []))
            last = state.get("last_seconds")
            self.last_seconds = (float(last[0]), float(last[1])) if last else None
            self.alerts = [dict(alert) for alert in state.get("alerts", [])][:MAX_ALERTS]
            self.alert_count = int(state.get("alert_count", len(self.alerts)))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise ConfigError(
                f"hf_tracking state: health is not a valid detector state ({error!r:.80})"
            ) from None


def _spike_text(key: str, value: float, verdict: Verdict) -> str:
    return (
        f"{key} {value:.4g} passed {verdict.threshold:.4g} "
        f"(the recent mean is {verdict.baseline:.4g})"
    )


def alert_row(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The values of an alert's ``alert`` row in the run store: the axes and ``alert/*``."""
    return {
        STEP_KEY: alert["step"],
        WALLCLOCK_KEY: alert["wallclock_hours"],
        TOKENS_KEY: alert["tokens_seen"],
        ALERT_KIND: alert["kind"],
        "alert/value": alert["value"],
        "alert/baseline": alert["baseline"],
        "alert/threshold": alert["threshold"],
        "alert/message": alert["message"],
    }
