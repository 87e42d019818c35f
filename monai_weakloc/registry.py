"""Component registry and plugin discovery.

One registry per kind of component (``network``, ``loss``, ``metric``, ``sampler``, ``localizer``).
Components are registered by name and built by name with keyword arguments, so that a bundle config can
write::

    "network": {"_target_": "monai_weakloc.registry.create", "kind": "network", "name": "cam_cnn",
                "in_channels": 3, "num_classes": 5}

Plugins are installable packages that declare an entry point in the group ``monai_weakloc.plugins``.
The entry point names a callable ``register(registry: Registry) -> None`` that registers the plugin's
components. Entry points are read lazily, on the first look-up of any component, and each plugin is loaded
once. A plugin that fails to import or to register is recorded with its name and the error and does not
break the host. Setting the environment variable ``WEAKLOC_DISABLE_PLUGIN_AUTOLOAD=1`` turns autoload off.

The host's own generic components (:mod:`monai_weakloc.host_components`, e.g. the ``guided_backprop``
localizer) are registered on the first look-up as well, before the plugins and also with autoload off;
their owner is :data:`HOST_PLUGIN`.

MONAI has no registry of this kind (``monai.bundle`` locates classes by dotted path only), hence this module.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "PluginInfo",
    "Registry",
    "REGISTRY",
    "register",
    "get",
    "create",
    "names",
    "plugins",
]

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("network", "loss", "metric", "sampler", "localizer")
ENTRY_POINT_GROUP = "monai_weakloc.plugins"
AUTOLOAD_ENV = "WEAKLOC_DISABLE_PLUGIN_AUTOLOAD"
HOST_PLUGIN = "monai_weakloc"


@dataclass
class PluginInfo:
    """What is known of one plugin after discovery.

    Attributes:
        name: the entry point name.
        value: the entry point target, ``module:function``.
        distribution: the installed distribution that declares it (``None`` if unknown).
        components: registered component names by kind.
        error: the load error as ``ExceptionType: message`` (``None`` if it loaded).
        traceback: the full traceback of the load error.
    """

    name: str
    value: str
    distribution: str | None = None
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None

    @property
    def loaded(self) -> bool:
        """True when the plugin registered its components without error."""
        return self.error is None


def _autoload_disabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class Registry:
    """Named components by kind, filled by the host and by plugins found through entry points."""

    def __init__(self, entry_point_group: str = ENTRY_POINT_GROUP) -> None:
        self._group = entry_point_group
        self._components: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self._owners: dict[tuple[str, str], str] = {}
        self._plugins: dict[str, PluginInfo] = {}
        self._discovered = False
        self._loading: str | None = None
        self._lock = threading.RLock()

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")

    def register(self, kind: str, name: str, obj: Any | None = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that registers its target.

        Args:
            kind: one of :data:`KINDS`.
            name: the registry name; unique within ``kind``.
            obj: a class or a callable that builds the component.

        Returns:
            ``obj`` itself, or the decorator.

        Raises:
            ValueError: if ``kind`` is unknown, ``name`` is empty, or ``name`` is already registered.
        """
        self._check_kind(kind)
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {kind} needs a non-empty string name, got {name!r}")
        if obj is None:

            def decorator(target: Any) -> Any:
                return self.register(kind, name, target)

            return decorator
        if not callable(obj):
            raise TypeError(f"{kind} {name!r} must be a class or a callable, got {type(obj).__name__}")
        with self._lock:
            if name in self._components[kind]:
                owner = self._owners.get((kind, name), HOST_PLUGIN)
                raise ValueError(f"{kind} {name!r} is already registered (by {owner})")
            self._components[kind][name] = obj
            owner = self._loading or HOST_PLUGIN
            self._owners[(kind, name)] = owner
            if self._loading is not None:
                self._plugins[self._loading].components.setdefault(kind, []).append(name)
        return obj

    def unregister(self, kind: str, name: str) -> None:
        """Remove a component (used by tests and by plugins that replace their own components)."""
        self._check_kind(kind)
        with self._lock:
            if name not in self._components[kind]:
                raise KeyError(f"{kind} {name!r} is not registered")
            del self._components[kind][name]
            self._owners.pop((kind, name), None)

    def discover(self, force: bool = False) -> list[PluginInfo]:
        """Register the host's components, then read the entry points and load every plugin not yet loaded.

        The host's components (:mod:`monai_weakloc.host_components`) are registered on the first call only.

        Args:
            force: load even when :data:`AUTOLOAD_ENV` disables autoload.

        Returns:
            every plugin seen so far.
        """
        with self._lock:
            if self._discovered and not force:
                return list(self._plugins.values())
            if not self._discovered:
                # imported here: the host's components import torch and the localizers, which a registry
                # module imported by every layer must not
                from monai_weakloc.host_components import register as register_host_components

                register_host_components(self)
            self._discovered = True
            if _autoload_disabled() and not force:
                logger.info("plugin autoload is off (%s is set)", AUTOLOAD_ENV)
                return list(self._plugins.values())
            for entry_point in importlib.metadata.entry_points(group=self._group):
                if entry_point.name not in self._plugins:
                    self._load(entry_point)
            return list(self._plugins.values())

    def _load(self, entry_point: importlib.metadata.EntryPoint) -> None:
        dist = getattr(entry_point, "dist", None)
        info = PluginInfo(
            name=entry_point.name,
            value=entry_point.value,
            distribution=dist.metadata["Name"] if dist is not None else None,
        )
        self._plugins[info.name] = info
        self._loading = info.name
        try:
            register_fn: Callable[[Registry], None] = entry_point.load()
            register_fn(self)
        except Exception as err:  # a broken plugin must not break the host
            info.error = f"{type(err).__name__}: {err}"
            info.traceback = traceback.format_exc()
            logger.warning("plugin %r (%s) failed to load: %s", info.name, info.value, info.error)
            for kind, component_names in info.components.items():
                for component_name in component_names:
                    self._components[kind].pop(component_name, None)
                    self._owners.pop((kind, component_name), None)
            info.components = {}
        finally:
            self._loading = None

    def get(self, kind: str, name: str) -> Any:
        """Return the class or callable registered as ``name``.

        Raises:
            KeyError: if no such component exists; the message suggests close names and lists plugin errors.
        """
        self._check_kind(kind)
        self.discover()
        try:
            return self._components[kind][name]
        except KeyError:
            pass
        known = sorted(self._components[kind])
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"no {kind} named {name!r}"
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        elif known:
            message += f"; registered {kind}s: {', '.join(known)}"
        else:
            message += f"; no {kind} is registered"
        broken = [p for p in self._plugins.values() if not p.loaded]
        if broken:
            message += "; plugins that failed to load: " + ", ".join(f"{p.name} ({p.error})" for p in broken)
        raise KeyError(message)

    def create(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Build the component registered as ``name`` with ``kwargs``."""
        return self.get(kind, name)(**kwargs)

    def names(self, kind: str) -> list[str]:
        """Sorted names of every registered component of ``kind``."""
        self._check_kind(kind)
        self.discover()
        return sorted(self._components[kind])

    def owner(self, kind: str, name: str) -> str:
        """The plugin that registered a component (``monai_weakloc`` for the host)."""
        self.get(kind, name)
        return self._owners[(kind, name)]

    def plugins(self) -> list[PluginInfo]:
        """Every plugin found through entry points, sorted by name."""
        self.discover()
        return sorted(self._plugins.values(), key=lambda p: p.name)


REGISTRY = Registry()


def register(kind: str, name: str, obj: Any | None = None) -> Any:
    """Register in the global registry; see :meth:`Registry.register`."""
    return REGISTRY.register(kind, name, obj)


def get(kind: str, name: str) -> Any:
    """Look up in the global registry; see :meth:`Registry.get`."""
    return REGISTRY.get(kind, name)


def create(kind: str, name: str, **kwargs: Any) -> Any:
    """Build a component from the global registry; the function bundle configs call by ``_target_``."""
    return REGISTRY.create(kind, name, **kwargs)


def names(kind: str) -> list[str]:
    """Names of the registered components of ``kind`` in the global registry."""
    return REGISTRY.names(kind)


def plugins() -> list[PluginInfo]:
    """Every plugin of the global registry."""
    return REGISTRY.plugins()
