"""The desk's screens: the main desk and its modal dialogs."""
