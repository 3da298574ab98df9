"""The inventory's pages, mounted at /inventory/: stock (balance, deliveries, ledger, wastage, transfers),
planning (counts, reorder levels, purchase orders, consumption) and the recall list."""

from django.urls import include, path

app_name = "inventory"

urlpatterns = [
    path("", include("ympa.inventory.stock_urls")),
    path("planning/", include("ympa.inventory.planning_urls")),
    path("recall/", include("ympa.inventory.recall_urls")),
]
