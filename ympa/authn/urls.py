from django.urls import path

from ympa.authn import views

app_name = "authn"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.totp_view, name="totp"),
    path("login/enrol/", views.enrol_view, name="enrol"),
    path("login/sms/", views.sms_login_view, name="sms_login"),
    path("login/sms/code/", views.sms_code_view, name="sms_code"),
    path("reauth/", views.reauth_view, name="reauth"),
    path("reauth/sms/", views.reauth_sms_view, name="reauth_sms"),
    path("assignment/", views.assignment_view, name="assignment"),
    path("logout/", views.logout_view, name="logout"),
]
