"""Market data sources: the embedded simulated market, Binance through ccxt, replay files."""
