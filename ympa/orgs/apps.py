from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "ympa.orgs"
    label = "orgs"
    verbose_name = "Organisations"
