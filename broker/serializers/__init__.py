"""The broker API's serializers: the market (instruments, charts, status), orders, and the portfolio."""
