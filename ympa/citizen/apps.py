from django.apps import AppConfig


class CitizenConfig(AppConfig):
    name = "ympa.citizen"
    label = "citizen"
    verbose_name = "Citizen e-services"
