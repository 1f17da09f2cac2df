"""Bokeh's property defaults, worked out once per class instead of at every read: a served page costs the
server a third less.

A page's document is about 250 Bokeh models, and Bokeh 3.8 and 3.9 work out a property's default afresh each
time it is read: the class's overridden defaults merged along its MRO, the default copied and validated
again. Serializing a model reads the default of *every* property it has, set or not, only to drop those it
did not set (``query_properties_with_values``: a Plot has about 100). In a page's server time that was
most of ``Document.to_json`` and a third of building the figures.

:func:`apply` replaces five of Bokeh's property internals with versions that give the same results and
remember what depends only on the class:

- ``HasProps._overridden_defaults``: the merged overrides, once per class (read-only);
- ``HasProps.themed_values``: an instance's theme, read without raising (and catching) an AttributeError;
- ``HasProps.query_properties_with_values`` without defaults: reads only the properties a model set (or
  holds a default model of, or has themed), and those without a default (an unset one raises, as in
  Bokeh's); Bokeh's reads every one and drops the rest;
- ``PropertyDescriptor.has_unstable_default``: whether a default is made anew per model, once per class;
- ``Property.themed_default``: a default that is a plain immutable value (None, a bool, number or string),
  validated once per class and property (only while validation is on, so conversions by alternative ran).

Only Bokeh versions whose internals these were checked against are patched (:data:`CHECKED`); on any other
:func:`apply` leaves Bokeh alone and says so. ``dashboard serve`` and ``panel serve dashboard/app.py``
apply it; a notebook does not (the kernel's Bokeh is the user's). ``tests/ui/test_propcache.py`` checks that
a whole page serializes to the same JSON either way, and every model class's defaults.
"""

from __future__ import annotations

import logging
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import bokeh
from bokeh.core.has_props import HasProps
from bokeh.core.property.bases import Property, validation_on
from bokeh.core.property.descriptors import PropertyDescriptor, UnsetValueError
from bokeh.core.property.singletons import Undefined
from bokeh.core.property.wrappers import PropertyValueContainer

log = logging.getLogger(__name__)

#: Bokeh versions (major, minor) whose property internals the replacements were read against.
CHECKED = ((3, 8), (3, 9))

#: Default values that can be shared by every model: nothing can change them in place.
IMMUTABLE = (type(None), bool, int, float, str)

_ORIGINALS: dict[tuple[type, str], Any] = {}
_overrides: weakref.WeakKeyDictionary[type, Mapping[str, Any]] = weakref.WeakKeyDictionary()
_unstable: weakref.WeakKeyDictionary[type, dict[PropertyDescriptor[Any], bool]] = weakref.WeakKeyDictionary()
_defaults: weakref.WeakKeyDictionary[type, dict[tuple[int, str, bool], Any]] = weakref.WeakKeyDictionary()
_unset: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def checked_version(version: str | None = None) -> bool:
    """Whether ``version`` of Bokeh (the installed one by default) is one the replacements were checked
    against."""
    version = bokeh.__version__ if version is None else version
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) in CHECKED


def applied() -> bool:
    """Whether Bokeh's property internals are replaced now."""
    return bool(_ORIGINALS)


def apply() -> bool:
    """Replace Bokeh's property internals with the cached ones (idempotent); whether they are in place. On a
    Bokeh version not in :data:`CHECKED`, nothing is replaced and a warning says so once."""
    if applied():
        return True
    if not checked_version():
        log.warning("Bokeh %s is not one whose property internals dashboard.ui.propcache was checked "
                    "against (%s): pages are built with Bokeh's own, a third slower", bokeh.__version__,
                    ", ".join(f"{a}.{b}" for a, b in CHECKED))
        return False
    for owner, name, replacement in _replacements():
        _ORIGINALS[(owner, name)] = owner.__dict__[name]
        setattr(owner, name, replacement)
    return True


def restore() -> None:
    """Put Bokeh's own internals back, and forget what was cached."""
    for (owner, name), original in _ORIGINALS.items():
        setattr(owner, name, original)
    _ORIGINALS.clear()
    for cache in (_overrides, _unstable, _defaults, _unset):
        cache.clear()


def _replacements() -> list[tuple[type, str, Any]]:
    return [(HasProps, "_overridden_defaults", classmethod(_overridden_defaults)),
            (HasProps, "themed_values", _themed_values),
            (HasProps, "query_properties_with_values", _query_properties_with_values),
            (PropertyDescriptor, "has_unstable_default", _has_unstable_default),
            (Property, "themed_default", _themed_default)]


def _original(owner: type, name: str) -> Callable[..., Any]:
    found = _ORIGINALS[(owner, name)]
    return found.__func__ if isinstance(found, classmethod) else found


def _overridden_defaults(cls: type[HasProps]) -> Mapping[str, Any]:
    """The class's overridden defaults along its MRO (read-only: every caller shares it)."""
    found = _overrides.get(cls)
    if found is None:
        found = _overrides[cls] = types.MappingProxyType(_original(HasProps, "_overridden_defaults")(cls))
    return found


def _themed_values(self: HasProps) -> dict[str, Any] | None:
    return self.__dict__.get("__themed_values__")


def _has_unstable_default(self: PropertyDescriptor[Any], obj: HasProps) -> bool:
    known = _unstable.setdefault(type(obj), {})
    found = known.get(self)
    if found is None:
        found = known[self] = _original(PropertyDescriptor, "has_unstable_default")(self, obj)
    return found


def _themed_default(self: Property[Any], cls: type[HasProps], name: str, theme_overrides: dict[str, Any] | None,
                    *, no_eval: bool = False) -> Any:
    original = _original(Property, "themed_default")
    if theme_overrides is not None and name in theme_overrides:
        return original(self, cls, name, theme_overrides, no_eval=no_eval)
    known = _defaults.setdefault(cls, {})
    key = (id(self), name, no_eval)
    if key in known:
        return known[key]
    value = original(self, cls, name, None, no_eval=no_eval)
    overrides = _overridden_defaults(cls)
    source = overrides.get(name, self._default)
    if type(value) in IMMUTABLE and not callable(source) and validation_on():
        known[key] = value  # (a property lives as long as its class: its id stays its own)
    return value


def _required(cls: type[HasProps]) -> frozenset[str]:
    """The properties of ``cls`` that have no default: reading one its model has not set raises."""
    found = _unset.get(cls)
    if found is None:
        overrides = _overridden_defaults(cls)
        found = _unset[cls] = frozenset(name for name in cls.properties(_with_props=True)
                                        if overrides.get(name, cls.lookup(name).property._default) is Undefined)
    return found


def _query_properties_with_values(self: HasProps, query: Callable[[PropertyDescriptor[Any]], bool], *,
                                  include_defaults: bool = True, include_undefined: bool = False) -> dict[str, Any]:
    """Bokeh's, reading only the properties it returns when defaults are left out."""
    if include_defaults:
        return _original(HasProps, "query_properties_with_values")(
            self, query, include_defaults=True, include_undefined=include_undefined)
    themed = self.themed_values()
    themed_keys = set(themed) if themed is not None else set()
    selected = self._property_values.keys() | self._unstable_default_values.keys() | themed_keys
    required = _required(type(self))
    result: dict[str, Any] = {}
    for key in self.properties(_with_props=True):  # (Bokeh's order)
        if key not in selected and key not in required:
            continue
        descriptor = self.lookup(key)
        if not query(descriptor):
            continue
        if key not in selected:
            if not include_undefined:
                descriptor.get_value(self)  # (unset and required: raises, as Bokeh's does)
            continue
        try:
            value = descriptor.get_value(self)
        except UnsetValueError:
            if not include_undefined:
                raise
            value = Undefined
        if (key not in themed_keys and isinstance(value, PropertyValueContainer)
                and key in self._unstable_default_values):
            continue
        result[key] = value
    return result
