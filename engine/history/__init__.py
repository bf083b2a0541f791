"""Local market history: `trifactor data fetch` and `trifactor data list`."""
