from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "ympa.catalog"
    label = "catalog"
    verbose_name = "Vaccine catalogue"
