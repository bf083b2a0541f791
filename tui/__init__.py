"""The terminal desk: a Textual app that hosts the engine and shows what it does."""
