from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "ympa.reporting"
    label = "reporting"
    verbose_name = "Reporting"
