"""Analysis across runs: compute-optimal scaling fits and seed groups, pure over run summaries
and rows (no file or plot in here; ``hf_tracking.report`` and ``hf_tracking.serve`` draw them).

| module | what |
| --- | --- |
| ``points`` | (N, D, C, loss) of runs or of a CSV, checked; the FLOPs conventions |
| ``loss_curves`` | a run's loss against its cumulative compute (smoothed), read at a compute |
| ``parametric`` | Approach 3: L(N, D) = E + A/N^α + B/D^β, Huber on log-sum-exp, L-BFGS from a grid |
| ``isoflop`` | Approach 2: IsoFLOP minima per budget and N* ∝ C^a |
| ``scaling`` | both fits as a JSON-ready dict and a table |
| ``curves`` | a fit's frontier and IsoFLOP profiles sampled for drawing (the dashboard's scaling page) |
| ``groups`` | seed groups and their mean curve with a band |

The fits need scipy (``pip install 'hf-tracking[analysis]'``); it is imported by the modules
that fit only, so ``groups``, ``points`` and ``loss_curves`` work without it.
"""
