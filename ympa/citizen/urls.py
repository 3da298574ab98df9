from django.urls import path

from ympa.authn import bankid_views
from ympa.authn.bankid_flow import Purpose
from ympa.citizen import views

app_name = "citizen"
_purpose = {"purpose": Purpose.CITIZEN_LOGIN}
urlpatterns = [
    path("", views.home_view, name="home"),
    path("record/<uuid:patient_id>/", views.record_view, name="record"),
    path("login/", bankid_views.bankid_view, _purpose, name="login"),
    path("login/status/", bankid_views.bankid_status_view, _purpose, name="login_status"),
    path("login/cancel/", bankid_views.bankid_cancel_view, _purpose, name="login_cancel"),
    path("logout/", views.logout_view, name="logout"),
]
