from django.urls import path

from execution.consumers import ExecutionConsumer, MonitorConsumer

websocket_urlpatterns = [
    path("ws/executions/<int:execution_id>/", ExecutionConsumer.as_asgi()),
    path("ws/monitor/", MonitorConsumer.as_asgi()),
]
