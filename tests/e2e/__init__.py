"""End-to-end ledger tests: real `trifactor run --headless` processes against SQLite, the
shared MariaDB (databases tf_e2e_*) and two private MariaDB servers on free 127.0.0.1 ports
that the tests stop and kill. Run them with `python -m pytest tests/e2e`; E2E_KILL_SEED
replays the kill -9 trials of an earlier run (each run prints its seed).
"""
