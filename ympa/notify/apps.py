from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "ympa.notify"
    label = "notify"
    verbose_name = "Notifications"
