"""The async trading engine: feeds, venues, portfolio, risk, commands and events. Never imports the desk."""
