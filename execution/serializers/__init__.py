"""The execution API's serializers: executions, step runs and decisions; the queue's tasks and schedules."""
