from django.contrib.admin.apps import AdminConfig


class AlmaAdminConfig(AdminConfig):
    """django.contrib.admin with our site (config.admin.AlmaAdminSite) as the default site."""

    default_site = "config.admin.AlmaAdminSite"
