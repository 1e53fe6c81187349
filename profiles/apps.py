from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = "Publishing"

    def ready(self):
        # The record list gets "Set/Unset holding now" from here: records never imports profiles.
        from .worldcat.actions import add_record_list_actions

        add_record_list_actions()
