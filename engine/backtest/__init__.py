"""Backtests on history with the live engine's own decision path (see runner.py)."""
