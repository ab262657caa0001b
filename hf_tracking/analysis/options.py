"""The choices a scaling fit takes and its error: no imports, so the command line can name them
without loading numpy or scipy."""

PARAMETER_COUNTS = ("total", "non_embedding")
LOSSES = ("val", "best_val", "train", "smoothed_train")
CONVENTIONS = ("run", "6nd")
APPROACHES = ("2", "3")
ISOFLOP_METHODS = ("akima", "parabola")
# How runs count for an IsoFLOP budget: each run's curve read at the budget (interpolate), only
# its final compute within a tolerance of it (tolerance), or the first where every run has a
# loss-against-compute curve (auto).
BUDGET_RULES = ("auto", "interpolate", "tolerance")
DEFAULT_TOLERANCE = 0.1  # runs within 10% of a budget's compute count for it
DEFAULT_LOSS_NOISE = 0.005  # seed-to-seed standard deviation of the loss (nats)
DEFAULT_SMOOTHING = 0.1  # e-folding length of the training loss's EMA, in ln(compute)


class ScalingInputError(ValueError):
    """The points cannot be fitted as asked: too few, a missing column, a non-positive value."""
