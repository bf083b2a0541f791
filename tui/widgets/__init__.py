"""The desk's panes: header, tables, breakdown, chart and equity."""
