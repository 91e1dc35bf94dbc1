from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"

    def ready(self):
        from execution import checks  # noqa: F401 - registers the start-up checks
