from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ympa.core"
    label = "core"
    verbose_name = "Ympa core"

    def ready(self) -> None:
        from ympa.core import checks  # noqa: F401 - registers the deployment checks
