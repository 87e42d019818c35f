"""The component registry and plugin discovery through entry points."""

from __future__ import annotations

import importlib.metadata
import logging

import pytest
from monai.bundle import ConfigParser

from monai_weakloc.registry import AUTOLOAD_ENV, ENTRY_POINT_GROUP, REGISTRY, Registry


class Dummy:
    def __init__(self, width: int = 1) -> None:
        self.width = width


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *specs: tuple[str, str]) -> list[str]:
    """Make ``importlib.metadata.entry_points`` return only the given (name, value) plugins."""
    calls: list[str] = []
    points = [importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in specs]

    def entry_points(group: str):
        calls.append(group)
        return [p for p in points if p.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return calls


def test_register_create_and_list():
    registry = Registry(entry_point_group="no.such.group")
    registry.register("network", "dummy", Dummy)
    built = registry.create("network", "dummy", width=7)
    assert isinstance(built, Dummy) and built.width == 7
    assert registry.names("network") == ["dummy"]
    assert registry.owner("network", "dummy") == "monai_weakloc"


def test_register_as_decorator():
    registry = Registry(entry_point_group="no.such.group")

    @registry.register("loss", "my_loss")
    def my_loss() -> str:
        return "built"

    assert registry.create("loss", "my_loss") == "built"


def test_duplicate_name_raises_value_error():
    registry = Registry(entry_point_group="no.such.group")
    registry.register("metric", "kappa", Dummy)
    with pytest.raises(ValueError, match="metric 'kappa' is already registered"):
        registry.register("metric", "kappa", Dummy)


def test_same_name_in_other_kind_is_allowed():
    registry = Registry(entry_point_group="no.such.group")
    registry.register("metric", "thing", Dummy)
    registry.register("network", "thing", Dummy)
    assert registry.names("metric") == registry.names("network") == ["thing"]


def test_unknown_kind_and_bad_objects():
    registry = Registry(entry_point_group="no.such.group")
    with pytest.raises(ValueError, match="unknown component kind 'model'"):
        registry.register("model", "x", Dummy)
    with pytest.raises(TypeError, match="must be a class or a callable"):
        registry.register("network", "x", 3)
    with pytest.raises(ValueError, match="non-empty string name"):
        registry.register("network", "", Dummy)


def test_unknown_name_suggests_close_matches():
    registry = Registry(entry_point_group="no.such.group")
    registry.register("network", "zoom_in_net", Dummy)
    registry.register("network", "self_transfer_net", Dummy)
    with pytest.raises(KeyError, match="did you mean 'zoom_in_net'"):
        registry.get("network", "zoom_in_nte")
    with pytest.raises(KeyError, match="registered networks: self_transfer_net, zoom_in_net"):
        registry.get("network", "qqqqqqqq")


def test_plugins_are_read_lazily_and_once(monkeypatch):
    calls = fake_entry_points(monkeypatch, ("tests_plugin", f"{__name__}:register_dummy_plugin"))
    registry = Registry()
    assert calls == []  # nothing read at construction
    assert registry.names("network") == ["plugin_net"]
    registry.get("network", "plugin_net")
    assert calls == [ENTRY_POINT_GROUP]
    (info,) = registry.plugins()
    assert info.loaded and info.components == {"network": ["plugin_net"]}
    assert registry.owner("network", "plugin_net") == "tests_plugin"


def register_dummy_plugin(registry: Registry) -> None:
    registry.register("network", "plugin_net", Dummy)


def register_half_then_fail(registry: Registry) -> None:
    registry.register("network", "half_registered", Dummy)
    raise RuntimeError("plugin bug")


def test_broken_plugin_is_reported_and_host_keeps_working(monkeypatch, caplog):
    fake_entry_points(
        monkeypatch,
        ("weakloc_broken_import", "weakloc_no_such_module:register"),
        ("weakloc_broken_register", f"{__name__}:register_half_then_fail"),
        ("tests_plugin", f"{__name__}:register_dummy_plugin"),
    )
    registry = Registry()
    with caplog.at_level(logging.WARNING):
        assert registry.names("network") == ["plugin_net"]  # the half registration was rolled back
    infos = {p.name: p for p in registry.plugins()}
    assert infos["weakloc_broken_import"].error.startswith("ModuleNotFoundError")
    assert "weakloc_no_such_module" in infos["weakloc_broken_import"].error
    assert infos["weakloc_broken_register"].error == "RuntimeError: plugin bug"
    assert infos["tests_plugin"].loaded
    assert "weakloc_broken_import" in caplog.text
    with pytest.raises(KeyError, match="plugins that failed to load: weakloc_broken_import"):
        registry.get("network", "absent")


def test_duplicate_across_plugins_reports_the_second(monkeypatch):
    fake_entry_points(
        monkeypatch,
        ("first", f"{__name__}:register_dummy_plugin"),
        ("second", f"{__name__}:register_dummy_plugin"),
    )
    registry = Registry()
    registry.discover()
    infos = {p.name: p for p in registry.plugins()}
    assert infos["first"].loaded
    assert "ValueError" in infos["second"].error and "already registered (by first)" in infos["second"].error


def test_autoload_can_be_switched_off(monkeypatch):
    calls = fake_entry_points(monkeypatch, ("tests_plugin", f"{__name__}:register_dummy_plugin"))
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    registry = Registry()
    assert registry.names("network") == []
    assert calls == []
    registry.discover(force=True)
    assert registry.names("network") == ["plugin_net"]


def test_first_party_plugins_are_found():
    names = {p.name for p in REGISTRY.plugins()}
    assert {"weakloc_networks", "weakloc_metrics", "weakloc_samplers"} <= names
    assert all(p.loaded for p in REGISTRY.plugins() if p.name.startswith("weakloc_")), [
        (p.name, p.error) for p in REGISTRY.plugins()
    ]


def test_bundle_config_builds_a_registered_component():
    REGISTRY.register("network", "tests_config_dummy", Dummy)
    try:
        parser = ConfigParser(
            {"network": {"_target_": "monai_weakloc.registry.create", "kind": "network", "name": "tests_config_dummy", "width": 5}}
        )
        network = parser.get_parsed_content("network")
        assert isinstance(network, Dummy) and network.width == 5
    finally:
        REGISTRY.unregister("network", "tests_config_dummy")
