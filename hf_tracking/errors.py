"""The one exception users see for bad input."""


class ConfigError(ValueError):
    """A configuration field or file is wrong.

    The message names the field, the value and, when known, the file, for example
    ``learning_rate must be > 0, got -1.0 (in config.yaml)``.
    """
