"""Reproducible installs: the lock files cover what pyproject.toml declares, within its ranges,
and the Dockerfile builds from a pinned base image with the dependencies in their own layer."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
RELOCK = "run `.ci/lock` (see README, Reproducible installs) and commit requirements/"


def locked(name: str) -> dict[str, str]:
    """{package: version} pinned for this interpreter (markers evaluated) in requirements/NAME."""
    pins = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if not line or line[0] in "# ":
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _check(lock: str, requirements: list[Requirement]) -> None:
    pins = locked(lock)
    environment = default_environment()
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not in {lock}: {RELOCK}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: {RELOCK}"
        )


def test_the_runtime_lock_covers_every_runtime_dependency_within_its_range() -> None:
    _check("runtime.txt", declared("postgres"))


def test_the_dev_lock_covers_runtime_test_and_bench_dependencies_within_their_ranges() -> None:
    _check("dev.txt", declared("postgres", "test", "bench"))


def test_both_locks_agree_on_every_package_they_share() -> None:
    runtime, dev = locked("runtime.txt"), locked("dev.txt")
    assert runtime, "requirements/runtime.txt pins nothing"
    assert {name: dev.get(name) for name in runtime} == runtime, RELOCK


def test_dockerfile_pins_its_base_image_and_installs_dependencies_before_the_source() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base) for base in bases)
    lock_copied = text.index("COPY requirements/runtime.txt")
    locked_install = text.index("pip install -r requirements/runtime.txt")
    source_copied = text.index("COPY bot ")
    assert lock_copied < locked_install < source_copied
    assert "pip install -c requirements/runtime.txt '.[postgres]'" in text


def test_ci_installs_from_the_lock() -> None:
    assert "pip install --quiet -c requirements/dev.txt" in (ROOT / ".ci" / "run").read_text()
