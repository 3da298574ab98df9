from django.urls import path

from ympa.authn import bankid_views, siths_views, views
from ympa.authn.bankid_flow import Purpose

app_name = "authn"
_login = {"purpose": Purpose.STAFF_LOGIN}
_reauth = {"purpose": Purpose.STAFF_REAUTH}
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.totp_view, name="totp"),
    path("login/enrol/", views.enrol_view, name="enrol"),
    path("login/sms/", views.sms_login_view, name="sms_login"),
    path("login/sms/code/", views.sms_code_view, name="sms_code"),
    path("reauth/", views.reauth_view, name="reauth"),
    path("reauth/sms/", views.reauth_sms_view, name="reauth_sms"),
    path("login/bankid/", bankid_views.bankid_view, _login, name="bankid"),
    path("login/bankid/status/", bankid_views.bankid_status_view, _login, name="bankid_status"),
    path("login/bankid/cancel/", bankid_views.bankid_cancel_view, _login, name="bankid_cancel"),
    path("reauth/bankid/", bankid_views.bankid_view, _reauth, name="bankid_reauth"),
    path("reauth/bankid/status/", bankid_views.bankid_status_view, _reauth, name="bankid_reauth_status"),
    path("reauth/bankid/cancel/", bankid_views.bankid_cancel_view, _reauth, name="bankid_reauth_cancel"),
    path("login/siths/", siths_views.siths_start_view, name="siths"),
    path("login/siths/callback/", siths_views.siths_callback_view, name="siths_callback"),
    path("reauth/siths/", siths_views.siths_start_view, {"reauth": True}, name="siths_reauth"),
    path("assignment/", views.assignment_view, name="assignment"),
    path("logout/", views.logout_view, name="logout"),
]
