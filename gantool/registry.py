"""Name -> object registries for architectures, losses and datasets.

Entries may be given lazily as ``"package.module:attribute"`` strings so that listing the
names (for ``--help`` and ``click.Choice``) never imports TensorFlow.
"""

import importlib

from gantool.errors import UsageError


class Registry:
    """An ordered mapping from names to objects, filled with ``register``.

    ``register(name, obj)`` adds an object, a lazy ``"module:attr"`` string, or, used as
    ``@register(name)``, the decorated function. ``get(name)`` resolves lazy entries and
    raises :class:`UsageError` naming the accepted names for an unknown one.
    """

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}

    def register(self, name, obj=None):
        if obj is not None:
            self._add(name, obj)
            return obj

        def decorator(fn):
            self._add(name, fn)
            return fn

        return decorator

    def _add(self, name, obj):
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def get(self, name):
        if name not in self._entries:
            raise UsageError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            module = importlib.import_module(module_name)
            entry = getattr(module, attr) if attr else module
            self._entries[name] = entry
        return entry

    def unregister(self, name):
        """Remove ``name`` (for plug-ins and tests that register temporarily)."""
        self._entries.pop(name, None)

    def names(self):
        return list(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)
