"""The sections of ``scripts/benchmark_overhead.py``: shared helpers (:mod:`.common`), per-call
costs (:mod:`.calls`), one-off costs (:mod:`.oneoff`), whole Trainer runs (:mod:`.trainer_runs`,
one run: :mod:`.trainer_child`) and the printed tables (:mod:`.report`)."""
