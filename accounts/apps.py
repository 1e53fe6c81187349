from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Staff accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .sessions import start_clocks

        # Django's own hook for "someone logged in", whatever did it (the form, force_login).
        user_logged_in.connect(start_clocks, dispatch_uid="accounts.sessions.start_clocks")
