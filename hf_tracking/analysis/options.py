"""The choices a scaling fit takes and its error: no imports, so the command line can name them
without loading numpy or scipy."""

PARAMETER_COUNTS = ("total", "non_embedding")
LOSSES = ("val", "best_val", "train")
CONVENTIONS = ("run", "6nd")
APPROACHES = ("2", "3")
ISOFLOP_METHODS = ("akima", "parabola")
DEFAULT_TOLERANCE = 0.1  # runs within 10% of a budget's compute count for it
DEFAULT_LOSS_NOISE = 0.005  # seed-to-seed standard deviation of the loss (nats)


class ScalingInputError(ValueError):
    """The points cannot be fitted as asked: too few, a missing column, a non-positive value."""
