"""``cpsim state``: what chargers keep in their state dir, and how to start afresh.

``show`` prints each charger's open transactions, queued messages, energy registers,
configuration (secrets masked) and authorization cache; ``--json`` prints the same as
one stable document.  ``reset`` drops the state of every charger or of one, after a
confirmation; an unreadable database (corrupt, or from a newer cpsim) is moved aside,
never deleted.  Exit status: 0 done, 1 a "no" to reset's question, 2 a usage error, a
bad state dir (one line) or a charger ``show`` does not find (README "Exit codes").

``show`` opens the database read-only (no lock, nothing written): it works beside a
running charger and on a read-only dir.  ``reset`` holds the state dir's lock from
its first look to its last change, so it refuses while a charger runs on the dir.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from chargepoint.core.records import StoredState
from chargepoint.store import (
    DB_NAME,
    LEGACY_CONFIG,
    StateDirLock,
    Store,
    StoreError,
    StoreUnreadable,
    set_aside,
)

from .common import CouldNotStart

MASK = "********"
_SECRET = re.compile(r"AuthorizationKey|password|secret", re.IGNORECASE)


def _masked(key: str, value: str) -> str:
    return MASK if value and _SECRET.search(key) else value


def _shown(key: str, value: str) -> str:
    """A value in ``show``'s table: a secret says whether it is set, never what it is."""
    if not _SECRET.search(key):
        return value
    return f"{MASK} (set)" if value else "(not set)"


@click.group()
def state() -> None:
    """The chargers' state dir: open transactions, queued messages, configuration."""


def _state_dir_option(func: Any) -> Any:
    return click.option(
        "--state-dir",
        required=True,
        type=click.Path(path_type=Path),
        help=f"The state dir (holding {DB_NAME}), as given to `cpsim run --state-dir`.",
    )(func)


def _id_option(help: str) -> Any:
    return click.option("--id", "charger", metavar="CP", help=help)


@contextmanager
def _opened(state_dir: Path, lock: StateDirLock | None = None) -> Iterator[Store]:
    """The store of ``state_dir``: read-only without ``lock``, else for writing."""
    try:
        store = Store.open_readonly(state_dir) if lock is None else Store.open(state_dir, lock)
    except StoreError as exc:
        raise CouldNotStart(str(exc)) from None
    try:
        yield store
    except StoreError as exc:
        raise CouldNotStart(str(exc)) from None
    finally:
        store.close()


def _pick(store: Store, charger: str | None) -> list[str]:
    """The chargers to act on: every one, or ``[charger]``; [] if it has no state."""
    chargers = store.chargers()
    if charger is None:
        return chargers
    return [charger] if charger in chargers else []


def _unknown(store: Store, charger: str) -> str:
    chargers = store.chargers()
    held = ", ".join(chargers[:5]) + (f" and {len(chargers) - 5} more" if len(chargers) > 5 else "")
    return f"{store.path}: no state for charger {charger!r} (it holds {held or 'none'})"


# --- show ----------------------------------------------------------------------------------


@state.command()
@_state_dir_option
@_id_option("Only this charge point.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of tables.")
def show(state_dir: Path, charger: str | None, as_json: bool) -> None:
    """Print what the state dir holds for each charger (secrets masked).

    Open transactions, queued messages in order, energy registers, configuration (the
    AuthorizationKey shown as ******** when set), authorization cache size.  A state dir
    without a database yet is shown as empty (exit 0); a missing one is an error (exit 1).
    """
    if not state_dir.exists():
        raise CouldNotStart(f"{state_dir}: no such state dir")
    if state_dir.is_dir() and not (state_dir / DB_NAME).exists():
        legacy = state_dir / LEGACY_CONFIG
        doc: dict[str, Any] = {
            "state_dir": str(state_dir),
            "database": None,
            "schema_version": None,
            "chargers": [],
        }
        if as_json:
            click.echo(json.dumps(doc, indent=2))
            return
        click.echo(f"{state_dir}: empty (no {DB_NAME} yet)")
        if legacy.exists():
            click.echo(f"  {legacy.name} of an earlier cpsim: imported by the next `cpsim run`")
        return
    with _opened(state_dir) as store:
        chargers = _pick(store, charger)
        if charger is not None and not chargers:
            raise CouldNotStart(_unknown(store, charger))
        states = {cp: store.load(cp) for cp in chargers}
        doc = {
            "state_dir": str(state_dir),
            "database": str(store.path),
            "schema_version": store.version,
            "chargers": [_charger_doc(cp, s) for cp, s in states.items()],
        }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    count = len(states)
    click.echo(f"{doc['database']} (schema {doc['schema_version']}): {count} charger(s)")
    for cp, stored in states.items():
        click.echo("")
        click.echo("\n".join(_charger_lines(cp, stored)))


def _charger_doc(charger: str, stored: StoredState) -> dict[str, Any]:
    """One charger in ``show --json``: the records' own field names, secrets masked."""
    return {
        "id": charger,
        "transactions": [asdict(tx) for tx in stored.transactions],
        "queue": [asdict(message) for message in stored.queue],
        "registers": [
            {"connector_id": connector, **asdict(reading)}
            for connector, reading in sorted(stored.registers.items())
        ],
        "config": {key: _masked(key, value) for key, value in sorted(stored.config.items())},
        "inoperative_connectors": sorted(c for c, ok in stored.availability.items() if not ok),
        "auth_cache_size": len(stored.auth_cache),
        "counters": dict(sorted(stored.counters.items())),
        "local_list": {"version": stored.local_list_version, "size": len(stored.local_list)},
        "charging_profiles": [
            {"connector_id": p.connector_id, "profile": p.profile} for p in stored.charging_profiles
        ],
        "reservations": [asdict(r) for r in stored.reservations],
        "values": dict(sorted(stored.values.items())),
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [
        "    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _charger_lines(charger: str, stored: StoredState) -> list[str]:
    lines = [charger]
    txs = stored.transactions
    lines.append(f"  open transactions: {len(txs) or 'none'}")
    if txs:
        lines += _table(
            ("CONNECTOR", "IDTAG", "METER START", "LOCAL ID", "CSMS TRANSACTION", "STARTED"),
            [
                (t.connector_id, t.id_tag, t.meter_start, t.local_id)
                + (t.transaction_id if t.transaction_id is not None else "not yet known", t.started)
                for t in txs
            ],
        )
    queue = stored.queue
    lines.append(f"  queued messages: {f'{len(queue)}, oldest first' if queue else 'none'}")
    if queue:
        lines += _table(
            ("SEQ", "ACTION", "UNIQUE ID", "TRANSACTION", "ATTEMPTS"),
            [(m.seq, m.action, m.unique_id, m.local_tx or "-", m.attempts) for m in queue],
        )
    lines.append(f"  energy registers: {len(stored.registers) or 'none'}")
    if stored.registers:
        lines += _table(
            ("CONNECTOR", "ENERGY (Wh)", "READ AT"),
            [(c, r.energy_wh, r.timestamp) for c, r in sorted(stored.registers.items())],
        )
    lines.append(f"  configuration keys: {len(stored.config) or 'none'}")
    if stored.config:
        lines += _table(
            ("KEY", "VALUE"),
            [(key, _shown(key, value)) for key, value in sorted(stored.config.items())],
        )
    down = sorted(c for c, ok in stored.availability.items() if not ok)
    lines.append(f"  inoperative connectors: {', '.join(map(str, down)) or 'none'}")
    lines.append(f"  authorization cache: {len(stored.auth_cache)} idTag(s)")
    lines.append(
        f"  local authorization list: version {stored.local_list_version}, "
        f"{len(stored.local_list)} idTag(s)"
    )
    profiles = stored.charging_profiles
    lines.append(f"  charging profiles: {len(profiles) or 'none'}")
    if profiles:
        lines += _table(
            ("ID", "CONNECTOR", "PURPOSE", "STACK LEVEL", "KIND"),
            [
                (p.profile_id, p.connector_id)
                + tuple(
                    p.profile.get(k, "?")
                    for k in ("chargingProfilePurpose", "stackLevel", "chargingProfileKind")
                )
                for p in profiles
            ],
        )
    lines.append(f"  reservations: {len(stored.reservations) or 'none'}")
    if stored.reservations:
        lines += _table(
            ("ID", "CONNECTOR", "IDTAG", "EXPIRES"),
            [(r.reservation_id, r.connector_id, r.id_tag, r.expiry) for r in stored.reservations],
        )
    for name, value in sorted(stored.values.items()):
        lines.append(f"  {name}: {value}")
    counters = " ".join(f"{name}={value}" for name, value in sorted(stored.counters.items()))
    lines.append(f"  counters: {counters or 'none'}")
    return lines


# --- reset ---------------------------------------------------------------------------------


@state.command()
@_state_dir_option
@_id_option("Only this charge point (default: every charger in the state dir).")
@click.option("--keep-config", is_flag=True, help="Keep the configuration keys.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def reset(state_dir: Path, charger: str | None, keep_config: bool, yes: bool) -> None:
    """Drop the stored state of every charger or of one (asks first).

    Open transactions, queued messages, registers, counters, the authorization cache,
    and the configuration unless --keep-config.

    Asks first unless --yes; the answer is read from stdin even when it is not a terminal
    (`yes | cpsim state reset ...` works; no answer drops nothing).  An unreadable
    database or config.json is moved aside (renamed, never deleted).
    """
    if not state_dir.exists():
        raise CouldNotStart(f"{state_dir}: no such state dir")
    try:
        lock = StateDirLock.acquire(state_dir)  # no charger may start on it meanwhile
    except StoreError as exc:
        raise CouldNotStart(str(exc)) from None
    with lock:
        _reset(state_dir, lock, charger, keep_config, yes)


def _reset(
    state_dir: Path, lock: StateDirLock, charger: str | None, keep_config: bool, yes: bool
) -> None:
    moved = _set_aside_unreadable(state_dir, lock, yes)
    with _opened(state_dir, lock) as store:
        chargers = _pick(store, charger)
        if charger is not None and not chargers:
            click.echo(f"{_unknown(store, charger)}: nothing to drop")
            return
        counts = _what_drops(store, charger, keep_config)
        legacy = state_dir / LEGACY_CONFIG  # not imported yet: it would come back at next run
        old_config = charger is None and not keep_config and legacy.exists()
        whose = f"charger {charger}" if charger else f"{len(chargers)} charger(s)"
        parts = [f"{_join(counts)} of {whose}"] if counts else []
        parts += [f"the {legacy.name} of an earlier cpsim (renamed, kept)"] if old_config else []
        if not parts:
            click.echo(f"{store.path}: nothing {'else ' if moved else ''}to drop")
            return
        if not yes:
            click.confirm(f"Drop {' and '.join(parts)} in {state_dir}?", abort=True)
        store.reset(charger, keep_config)
        if counts:
            click.echo(f"dropped {parts[0]}")
        if old_config:
            click.echo(f"moved {legacy} aside to {set_aside(legacy, 'reset').name}")


def _set_aside_unreadable(state_dir: Path, lock: StateDirLock, yes: bool) -> int:
    """Move aside each file that keeps the store from opening (the database, an earlier
    cpsim's config.json), after a confirmation; returns how many were."""
    for moved in range(3):  # each file at most once; a fresh database then opens
        try:
            with Store.open(state_dir, lock) as store:
                store.chargers()  # a charge point id that is not text: the file goes too
            return moved
        except StoreUnreadable as exc:
            click.echo(f"{exc.path}: {exc.reason}", err=True)
            if not yes:
                click.confirm(f"Move {exc.path.name} aside (it is kept) and go on?", abort=True)
            aside = set_aside(exc.path, exc.tag)
            click.echo(f"moved {exc.path} aside to {aside.name}")
        except StoreError as exc:
            raise CouldNotStart(str(exc)) from None
    raise CouldNotStart(f"{state_dir}: still unreadable after moving files aside")


_NOUNS = {  # what reset says it drops, in this order; a later table by its name
    "transactions": "open transaction",
    "queue": "queued message",
    "registers": "energy register",
    "config": "configuration key",
    "auth_cache": "cached idTag",
    "counters": "counter",
    "availability": "connector availability setting",
}


def _what_drops(store: Store, charger: str | None, keep_config: bool) -> list[str]:
    """Counted, not loaded: a row of the wrong type (which ``load`` refuses, advising
    ``reset --id``) is dropped like any other."""
    counts = store.row_counts(charger)
    if keep_config:
        counts.pop("config", None)
    order = [table for table in _NOUNS if table in counts]
    order += sorted(set(counts) - set(order))
    out = []
    for table in order:
        n, plural = counts[table], "" if counts[table] == 1 else "s"
        noun = _NOUNS.get(table)
        out.append(f"{n} {noun}{plural}" if noun else f"{n} row{plural} of table {table}")
    return out


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
