"""Parameter sweeps: many backtests as tasks on Dask distributed."""
