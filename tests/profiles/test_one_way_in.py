"""The engine's public names are the one way in (profiles.engine.runs), and nothing outside the
engine reaches past it to start, claim or run a job."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

from django.conf import settings

import profiles.engine

SAFE = {
    "DryRun",
    "JobAlreadyActive",
    "JobRefused",
    "ModeChanged",
    "RunRequest",
    "dry_run",
    "find_orphans",
    "job_to_retry_first",
    "republish_set",
    "retry",
    "run_now",
    "run_queued",
    "run_scheduled",
}
# The engine's inside: what creates, claims or runs a job without the two rules. (A test may
# still import the pipeline module to wrap one of its steps with a fault.)
INSIDE = {
    "profiles.engine.jobs",
    "profiles.engine.pipeline.publish",
    "profiles.engine.commit.commit_job",
}


def test_the_engine_exports_only_the_safe_names():
    assert set(profiles.engine.__all__) == SAFE
    public = {n for n in vars(profiles.engine) if not n.startswith("_")} - {"annotations"}
    modules = {m.name for m in pkgutil.iter_modules(profiles.engine.__path__)}
    assert public - modules == SAFE


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(settings.BASE_DIR).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]).strip(".")
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_nothing_outside_the_engine_imports_its_inside():
    offenders = []
    for path in sorted(Path(settings.BASE_DIR).rglob("*.py")):
        relative = path.relative_to(settings.BASE_DIR)
        if relative.parts[0] in (".venv", "var") or relative.parts[:2] == ("profiles", "engine"):
            continue
        reached = imported_modules(path) & INSIDE
        if reached:
            offenders.append(f"{relative}: {sorted(reached)}")
    assert not offenders, offenders
