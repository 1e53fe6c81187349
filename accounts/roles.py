"""Staff roles, matching Alma's split of duties.

- Cataloger: tags records ("Export to WorldCat"), manages holdings and sets, imports records and
  runs the Synchronize job; cannot see S/FTP connections or publishing profiles.
- Publishing administrator: everything a cataloger sees (read-only), plus publishing profiles and
  their jobs; may see (not change) S/FTP connections so a profile can name one.
- System administrator: all of the above plus S/FTP connections and the emulated OCLC side.

Each role is a Django group; `python manage.py setup_roles` creates or refreshes them (idempotent)
and prints what each grants. Rules name apps and actions, so permissions of models added later are
picked up by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)


@dataclass(frozen=True)
class Role:
    name: str
    grants: dict[str, tuple[str, ...]]  # app label -> actions
    extra: tuple[str, ...] = ()  # "app_label.codename" of custom permissions


CATALOGER = Role(
    "Cataloger",
    {"records": ALL},
)
PUBLISHING_ADMINISTRATOR = Role(
    "Publishing administrator",
    {"records": VIEW, "profiles": ALL, "ftp": VIEW, "audit": VIEW},
)
SYSTEM_ADMINISTRATOR = Role(
    "System administrator",
    {"records": ALL, "profiles": ALL, "ftp": ALL, "datasync": ALL, "audit": VIEW, "django_q": VIEW},
)
ROLES = (CATALOGER, PUBLISHING_ADMINISTRATOR, SYSTEM_ADMINISTRATOR)


def permissions_for(role: Role) -> list[Permission]:
    perms: list[Permission] = []
    for app_label, actions in role.grants.items():
        for perm in Permission.objects.filter(content_type__app_label=app_label):
            action = perm.codename.split("_", 1)[0]
            # Custom permissions (e.g. "run_publishingjob") go with "change".
            if action in actions or (action not in ALL and "change" in actions):
                perms.append(perm)
    for dotted in role.extra:
        app_label, codename = dotted.split(".", 1)
        perms.extend(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
    return perms


@transaction.atomic
def setup_roles() -> dict[str, int]:
    """Create or refresh every role's group; returns the number of permissions per role."""
    counts = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        perms = permissions_for(role)
        group.permissions.set(perms)
        counts[role.name] = len(perms)
    return counts
