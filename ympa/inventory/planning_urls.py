"""Planning pages under /inventory/planning/: stock counts, reorder levels, purchase orders, consumption."""

from django.urls import path

from ympa.inventory import planning_views as views

urlpatterns = [
    path("counts/", views.count_list, name="count"),
    path("counts/start/", views.count_start, name="count_start"),
    path("counts/<int:count_id>/", views.count_detail, name="count_detail"),
    path("counts/<int:count_id>/close/", views.count_close, name="count_close"),
    path("reorder/", views.reorder, name="reorder"),
    path("reorder/draft/", views.reorder_draft, name="reorder_draft"),
    path("orders/", views.purchase_order_list, name="purchase_orders"),
    path("orders/new/", views.purchase_order_new, name="purchase_order_new"),
    path("orders/<uuid:order_id>/", views.purchase_order_detail, name="purchase_order_detail"),
    path("orders/<uuid:order_id>/send/", views.purchase_order_send_view, name="purchase_order_send"),
    path("orders/<uuid:order_id>/cancel/", views.purchase_order_cancel_view, name="purchase_order_cancel"),
    path("consumption/", views.consumption, name="consumption"),
    path("consumption/csv/", views.consumption_csv, name="consumption_csv"),
]
