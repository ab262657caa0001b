"""Plots and a Markdown report of a run, and comparisons of runs, read from the local run store.

A run is given as its directory ``{output_dir}/{name}/`` (holding ``metrics.jsonl``) or as its
summary ``{output_dir}/{name}_summary.json``. Records are read with
:func:`hf_tracking.jsonio.iter_jsonl` (a torn last line is skipped). matplotlib is imported only
when a plot is drawn (Agg backend), so ``import hf_tracking`` never needs it.

Plots of one run, in ``{run_dir}/plots/``:

| file | keys |
| --- | --- |
| ``loss.png`` | ``train/loss`` and ``val/loss`` (``val/<name>/loss`` too) against ``time/gradient_steps``, ``time/wallclock_hours``, ``time/tokens_seen`` and, when the summary states FLOPs per token, compute (tokens × FLOPs/token, its convention in the axis label); checkpoints as dotted lines |
| ``learning_rate.png`` | ``train/learning_rate`` and, when logged, ``train/grad_norm`` against steps |
| ``throughput.png`` | ``throughput/tokens_per_second``, and ``throughput/mfu_pct`` or else ``throughput/model_tflops_per_second`` when present |
| ``memory.png`` | ``memory/gpu_*_allocated_gb``/``reserved_gb``/``max_allocated_gb`` when present, ``memory/process_rss_gb``, ``memory/system_memory_percent`` (left out when no ``memory/*`` key was logged) |
| ``time_ledger.png`` | the summary's ``time_ledger_hours`` (train, eval, checkpoint, data wait, other) and ``goodput_pct`` |

``report.md`` beside them names the run and its status and gives the key numbers (steps, tokens,
wallclock, final train loss, best val loss, mean tokens/s, goodput, checkpoints, parameters), what
stopped it when an alert did, and a table of the run's alerts.
:func:`compare_runs` overlays the loss curves of several runs on the three axes and writes a table
(final train loss, best val loss, tokens/s, wallclock hours, parameters) as Markdown and CSV.
"""

from hf_tracking.report.compare import compare_runs, comparison_table, config_differences
from hf_tracking.report.plots import (
    make_report,
    plot_learning_rate,
    plot_loss,
    plot_memory,
    plot_throughput,
    plot_time_ledger,
    report_markdown,
)
from hf_tracking.report.runs import ReportError, Run, key_numbers, load_run, read_records
from hf_tracking.report.text import summary_text

__all__ = [
    "ReportError",
    "Run",
    "compare_runs",
    "comparison_table",
    "config_differences",
    "key_numbers",
    "load_run",
    "make_report",
    "plot_learning_rate",
    "plot_loss",
    "plot_memory",
    "plot_throughput",
    "plot_time_ledger",
    "read_records",
    "report_markdown",
    "summary_text",
]
