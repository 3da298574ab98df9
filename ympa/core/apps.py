from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ympa.core"
    label = "core"
    verbose_name = "Ympa core"
