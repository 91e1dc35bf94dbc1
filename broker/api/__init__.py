"""The broker API: the market (instruments, status, charts), orders, and the portfolio."""
