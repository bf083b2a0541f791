"""trifactor test suite."""
