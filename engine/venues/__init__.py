"""Where orders go: the paper book or Binance USDⓈ-M (testnet demo trading or live) via ccxt."""
