"""The execution pages: analytics, executions (monitor, run, detail) and the queue (tasks, schedules)."""
