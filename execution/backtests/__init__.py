"""Walk-forward backtests of a pinned workflow version (DESIGN §8b).

calendar: the decision points; engine: the steps at each point on point-in-time inputs, and the
backtest's own ledger; results: the report's figures; services: creating, estimating and cancelling.
"""
