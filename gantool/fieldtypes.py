"""Type checks of settings by their annotations, and seeds (no TensorFlow here)."""

import hashlib
import types

from gantool.errors import UsageError


def check_annotated(name, annotation, value, source="config"):
    """``value`` of setting ``name`` checked against its type ``annotation``: ``bool`` must be a
    bool, ``int`` a whole number (not a bool or a float), ``float`` a number (ints become
    floats), ``str`` text, ``list[int]`` a list of whole numbers, ``list[str]`` of texts;
    ``X | None`` also accepts None. Returns the value; raises :class:`UsageError` naming the
    setting and the value."""
    optional = isinstance(annotation, types.UnionType) and type(None) in annotation.__args__
    if optional:
        annotation = next(a for a in annotation.__args__ if a is not type(None))
    if value is None and optional:
        return None
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if _is_a(value, annotation):
        return value
    expected = _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
    raise UsageError(f"{source}: {name.replace('_', '-')} {value!r} is not accepted; expected "
                     f"{expected}{' or null' if optional else ''}")


def _is_a(value, annotation):
    if annotation in (list[int], list[str]):
        return isinstance(value, list) and all(_is_a(v, annotation.__args__[0]) for v in value)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is dict:
        return isinstance(value, dict)
    return isinstance(value, annotation)


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text",
               list[int]: "a list of whole numbers", list[str]: "a list of names",
               dict: "a table"}

# Seeds: every integer in [0, 2**63) (TensorFlow's int64 seeds); see seed_bits.
MAX_SEED = 2**63 - 1


def seed_bits(seed, bits):
    """``seed`` (in [0, 2**63)) as a seed of ``bits`` bits for APIs that take fewer (numpy's
    legacy seed: 32, an int32 tensor: 31): seeds that fit are unchanged, larger ones are
    hashed, so that every seed works and different large seeds stay different."""
    if seed < 2**bits:
        return seed
    digest = hashlib.sha256(str(seed).encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**bits


def check_seed(seed, what="--seed"):
    """``seed`` must be an int in [0, 2**63); raises :class:`UsageError` naming ``what``."""
    _require(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED,
             f"{what} must be a whole number in [0, 2**63), got {seed!r}")
    return seed


def _require(condition, message):
    if not condition:
        raise UsageError(message)


def check_derived(config):
    """A run's ``config.json`` must hold what was derived from its data: ``data_shape``,
    ``data_kind`` and, for a conditional run, ``num_classes``; raises :class:`UsageError`."""
    shape = config.data_shape
    _require(isinstance(shape, list) and len(shape) in (1, 3)
             and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape),
             f"data-shape must be a list of 1 or 3 whole numbers >= 1 (e.g. [28, 28, 1]), "
             f"got {shape!r}")
    _require(config.data_kind in ("image", "points"),
             f"data-kind must be image or points, got {config.data_kind!r}")
    _require(not config.conditional or (isinstance(config.num_classes, int)
                                        and config.num_classes >= 1),
             f"num-classes must be a whole number >= 1 for a conditional run, got "
             f"{config.num_classes!r}")
