"""Every package the application needs at run time is pinned in constraints.txt.

The dependencies of pyproject.toml are followed through each installed package's own metadata,
with environment markers evaluated for this machine, so a package pulled in by another (redis's
own dependencies, cryptography's cffi) is checked as well as the ones named directly.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def _runtime_closure() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pending = [Requirement(r) for r in project["dependencies"]]
    found: dict[str, str] = {}
    while pending:
        requirement = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            raise AssertionError(f"{requirement} is required but not installed") from None
        found[name] = dist.version
        extras = requirement.extras
        for sub in dist.requires or []:
            sub = Requirement(sub)
            if sub.marker and not any(
                sub.marker.evaluate({"extra": extra}) for extra in (*extras, "")
            ):
                continue
            pending.append(sub)
    return found


def test_every_runtime_dependency_is_pinned_at_the_installed_version():
    pins = _pins()
    closure = _runtime_closure()
    assert {"django", "paramiko", "asyncssh", "redis", "cffi"} <= closure.keys()
    unpinned = sorted(set(closure) - set(pins))
    assert not unpinned, f"not pinned in constraints.txt: {unpinned}"
    drifted = {n: (v, pins[n]) for n, v in closure.items() if pins[n] != v}
    assert not drifted, f"installed version differs from the pin: {drifted}"
