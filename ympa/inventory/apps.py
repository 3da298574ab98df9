from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "ympa.inventory"
    label = "inventory"
    verbose_name = "Inventory"
