"""Declared settings: name, type, default, range and help, checked the same way whether they
come from the command line, a TOML recipe or a run's ``config.json``.

An architecture declares its own settings as a tuple of :class:`Setting` (see
:mod:`gantool.models`); the ``train`` command's flags, ``--help``, TOML keys, validation and
``config.json`` are made from those declarations.
"""

import math
import tomllib
from dataclasses import dataclass, field

from gantool.errors import UsageError

KINDS = ("int", "float", "str", "bool", "ints", "layers")


class _Required:
    """The default of a table field that must be given."""

    def __repr__(self):
        return "required"


REQUIRED = _Required()


@dataclass(frozen=True)
class Setting:
    """One setting. ``name`` is the snake_case key (``--name-with-dashes`` on the command line).

    ``kind``: ``int``, ``float``, ``str``, ``bool``, ``ints`` (a list of whole numbers, written
    ``8,16`` on the command line) or ``layers`` (a list of tables, ``[[name]]`` in a recipe, a
    TOML inline array on the command line). ``low``/``high`` bound numbers (``high_open``:
    ``< high``); ``choices`` lists the accepted strings. ``tables`` (kind ``layers``) maps each
    accepted table ``type`` to its fields, declared as Settings themselves (default
    :data:`REQUIRED`: the field must be given); see :func:`check_tables`.
    """

    name: str
    kind: str
    default: object
    help: str
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    choices: tuple = ()
    tables: dict | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == "layers") != (self.tables is not None):
            raise ValueError(f"setting {self.name}: kind layers and tables go together")

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def describe_range(self):
        if self.choices:
            return "one of " + ", ".join(self.choices)
        what = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or "
                "false", "ints": "a list of whole numbers",
                "layers": "a list of tables"}[self.kind]
        if self.low is not None and self.high is not None:
            return f"{what} in [{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{what} >= {self.low:g}"
        return what

    def check(self, value, source="options"):
        """``value`` as this setting's type (command-line text is parsed); raises
        :class:`UsageError` naming the setting, the value and what is accepted (kind ``layers``:
        naming the table and the field, see :func:`check_tables`)."""
        if self.kind == "layers":
            return check_tables(self.name, self.tables, value, source)
        return self.checked(value, f"{source}: {self.flag}")

    def checked(self, value, what, parse_text=True):
        """``value`` as this setting's type, or a :class:`UsageError` starting with ``what``;
        ``parse_text=False``: text is accepted for ``str`` settings only."""
        try:
            if not parse_text and isinstance(value, str) and self.kind != "str":
                raise TypeError(value)
            checked = self._coerce(value)
            ok = self._in_range(checked)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise UsageError(f"{what} {value!r} is not accepted; "
                             f"expected {self.describe_range()}")
        return checked

    def _coerce(self, value):
        if isinstance(value, str) and self.kind != "str":
            return self._parse_text(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if self.kind == "ints":
            if not isinstance(value, (list, tuple)):
                raise TypeError
            return [self._whole(v) for v in value]
        if self.kind == "int":
            return self._whole(value)
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value

    @staticmethod
    def _whole(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value

    def _parse_text(self, text):
        text = text.strip()
        if self.kind == "ints":
            return [int(v) for v in text.replace(" ", "").split(",") if v]
        if self.kind == "int":
            return int(text)
        if self.kind == "float":
            return float(text)
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise ValueError(text)

    def _in_range(self, value):
        if self.choices and value not in self.choices:
            return False
        numbers = value if self.kind == "ints" else [value]
        if self.kind not in ("int", "float", "ints"):
            return True
        return all(math.isfinite(v) and self._bounded(v) for v in numbers)

    def _bounded(self, v):
        if self.low is not None and v < self.low:
            return False
        if self.high is not None and (v >= self.high if self.high_open else v > self.high):
            return False
        return True

    def format_default(self):
        if self.kind == "ints":
            return ",".join(map(str, self.default))
        if self.kind == "layers":  # dense(units=256), leaky_relu, ...: fields off their default
            return ", ".join(self._describe_table(table) for table in self.default)
        return str(self.default)

    def _describe_table(self, table):
        given = [f"{f.name}={table[f.name]}" for f in self.tables[table["type"]]
                 if f.name in table and table[f.name] != f.default]
        return table["type"] + (f"({', '.join(given)})" if given else "")


def check_tables(name, tables, value, source="options"):
    """``value`` (a list of tables, or its TOML inline-array text) checked against ``tables``
    (``{type: (field Setting, ...)}``): each table as a dict ``{"type": ..., field: value}`` with
    every field of its type, defaults filled in. A problem is a :class:`UsageError` naming the
    table by position (from 1, as the ``[[name]]`` tables of a recipe) and type, and the field:
    ``recipe.toml: generator layer 3 (conv): stride 0 is not accepted; expected ...``."""
    if isinstance(value, str):
        try:
            value = tomllib.loads(f"value = {value}")["value"]
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{source}: {name} is not a TOML array of tables: {e}") from None
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(table, dict) for table in value)):
        raise UsageError(f"{source}: {name} must be a non-empty list of tables ([[{name}]] in a "
                         f"recipe), got {value!r}")
    return [_check_table(name, tables, i, table, source) for i, table in enumerate(value, 1)]


def _check_table(name, tables, position, table, source):
    kind = table.get("type")
    if not isinstance(kind, str) or kind not in tables:
        raise UsageError(f"{source}: {name} layer {position}: type {kind!r} is not accepted; "
                         f"expected one of {', '.join(tables)}")
    where = f"{source}: {name} layer {position} ({kind})"
    fields = {f.name: f for f in tables[kind]}
    unknown = sorted(set(table) - set(fields) - {"type"})
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r}; {kind} takes "
                         f"{', '.join(fields) or 'no fields'}")
    checked = {"type": kind}
    for f in fields.values():
        if f.name in table:
            checked[f.name] = f.checked(table[f.name], f"{where}: {f.name}", parse_text=False)
        elif f.default is REQUIRED:
            raise UsageError(f"{where}: field {f.name!r} is missing ({f.help}: "
                             f"{f.describe_range()})")
        else:
            checked[f.name] = list(f.default) if isinstance(f.default, list) else f.default
    return checked
