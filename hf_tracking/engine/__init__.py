"""The engine's parts: each small, stateful, with its own ``state_dict``/``load_state_dict``.

:mod:`values` checks what callers pass; :mod:`run_state` holds identity, counters, best values,
checkpoints and peaks; :mod:`step_clock` the time ledger and step times; :mod:`window` the
training window and its device-side sums; :mod:`compute` FLOPs, device and peak; :mod:`progress`
throughput and ETA; :mod:`records` builds rows; :mod:`snapshot` is the summary's immutable copy.
"""
