from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "ympa.access"
    label = "access"
    verbose_name = "Access and audit"
