from django.urls import path

from ympa.authn import views

app_name = "authn"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.totp_view, name="totp"),
    path("login/enrol/", views.enrol_view, name="enrol"),
    path("assignment/", views.assignment_view, name="assignment"),
    path("logout/", views.logout_view, name="logout"),
]
