"""The stock pages (balance, deliveries, ledger, wastage, transfers, storage locations) under /inventory/."""

from django.urls import path

from ympa.inventory import views

urlpatterns = [
    path("", views.balance, name="balance"),
    path("flags/<int:flag_id>/resolve/", views.flag_resolve, name="flag_resolve"),
    path("vials/open/", views.vial_open_view, name="vial_open"),
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries/new/", views.delivery_new, name="delivery_new"),
    path("deliveries/<uuid:delivery_id>/", views.delivery_detail, name="delivery"),
    path("ledger/", views.ledger_view, name="ledger"),
    path("wastage/new/", views.wastage_new, name="wastage_new"),
    path("transfers/", views.transfer_list, name="transfers"),
    path("transfers/new/", views.transfer_new, name="transfer_new"),
    path("transfers/<uuid:transfer_id>/receive/", views.transfer_receive_view, name="transfer_receive"),
    path("locations/", views.locations, name="locations"),
]
