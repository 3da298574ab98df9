from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "ympa.journal"
    label = "journal"
    verbose_name = "Vaccination record"
