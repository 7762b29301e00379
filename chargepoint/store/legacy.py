"""The ``config.json`` of an earlier cpsim (one per charger state dir), read for import."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from .errors import StoreUnreadable

LEGACY_CONFIG = "config.json"


def read_legacy_config(path: Path) -> dict[str, str]:
    """Its keys as strings; :class:`StoreUnreadable` (naming no value) if it is not a JSON
    object of strings, since ignoring it would silently drop the charger's configuration."""
    bad = f"{path}.bad"
    advice = f"fix it, or set it aside with `mv {shlex.quote(str(path))} {shlex.quote(bad)}`"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise StoreUnreadable(path, "not UTF-8 text", advice=advice) from None
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        raise StoreUnreadable(path, reason, advice=advice) from None
    except OSError as exc:
        raise StoreUnreadable(path, f"cannot read it ({exc.strerror})", advice=advice) from None
    if not isinstance(data, dict):
        raise StoreUnreadable(path, "not a JSON object of configuration keys", advice=advice)
    config: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            config[key] = "true" if value else "false"
        elif isinstance(value, str | int):
            config[key] = str(value)
        else:
            reason = f"the value of {key!r} is not a string"
            raise StoreUnreadable(path, reason, advice=advice)
    return config
