"""Ids, shards and URLs of a fleet: pure functions, checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargepoint.fleet import (
    FleetUsageError,
    IdTemplate,
    ShardSpec,
    assign_urls,
    fleet_ids,
    read_urls_file,
    shard_from_env,
)


def test_template_fills_numbers_from_one() -> None:
    assert fleet_ids(IdTemplate.parse("CP{:05d}"), 3, range(1, 4)) == [
        "CP00001",
        "CP00002",
        "CP00003",
    ]


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("CP", "exactly one field"),
        ("CP{}{}", "exactly one field"),
        ("CP{name}", "exactly one field"),
        ("CP{:s}", "Unknown format code"),
        ("CP{", "--id-template"),
        ("CP{:99999999999d}", "a field width or precision above 48"),  # not a MemoryError
        ("CP{:.60f}", "a field width or precision above 48"),
        ("CP" * 101 + "{}", "longer than 200 characters"),
    ],
)
def test_bad_templates_are_named(template: str, words: str) -> None:
    with pytest.raises(FleetUsageError, match="--id-template") as caught:
        IdTemplate.parse(template)
    assert words in str(caught.value)


def test_template_that_makes_duplicates_names_both_numbers() -> None:
    # one significant digit: 10 and 11 are both 1e+01
    template = IdTemplate.parse("CP{:.0e}")
    with pytest.raises(FleetUsageError, match="duplicate ids: 10 and 11") as caught:
        fleet_ids(template, 20, range(1, 21))
    assert "widen the field" in str(caught.value)


def test_duplicates_are_refused_in_every_shard_not_only_the_one_that_meets_them() -> None:
    template = IdTemplate.parse("CP{:.0e}")
    first_shard = ShardSpec(0, 10).slice(20)  # numbers 1 and 2: distinct ids
    assert len(set(IdTemplate.format(template, n) for n in first_shard)) == 2
    with pytest.raises(FleetUsageError, match="duplicate"):
        fleet_ids(template, 20, first_shard)


def test_an_id_unfit_for_a_url_path_is_refused() -> None:
    with pytest.raises(FleetUsageError, match="goes in the URL path"):
        fleet_ids(IdTemplate.parse("CP {}"), 2, range(1, 3))


@pytest.mark.parametrize("total", [1, 7, 10, 1000, 10001])
@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_shards_are_disjoint_and_complete(total: int, shards: int) -> None:
    if shards > total:
        return
    slices = [ShardSpec(i, shards).slice(total) for i in range(shards)]
    numbers = [n for s in slices for n in s]
    assert numbers == list(range(1, total + 1))
    assert max(len(s) for s in slices) - min(len(s) for s in slices) <= 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3/3", "I must be from 0 to 2"),
        ("0/0", "K must be at least 1"),
        ("1", "expected I/K"),
        ("-1/3", "expected I/K"),
    ],
)
def test_shard_out_of_range_is_named(text: str, words: str) -> None:
    with pytest.raises(FleetUsageError, match="--shard") as caught:
        ShardSpec.parse(text)
    assert words in str(caught.value)


def test_more_shards_than_chargers_is_refused() -> None:
    with pytest.raises(FleetUsageError, match="leaves some empty"):
        ShardSpec(0, 5).slice(3)


def test_shard_from_the_indexed_jobs_environment() -> None:
    assert shard_from_env(4, {"JOB_COMPLETION_INDEX": "3"}) == ShardSpec(3, 4)
    with pytest.raises(FleetUsageError, match="JOB_COMPLETION_INDEX is not set"):
        shard_from_env(4, {})
    with pytest.raises(
        FleetUsageError,
        match=r"--shard-from-env 4: JOB_COMPLETION_INDEX=4 must be from 0 to 3 \(the Job's "
        "completions must be 4",
    ):
        shard_from_env(4, {"JOB_COMPLETION_INDEX": "4"})


def test_urls_are_assigned_the_same_way_in_every_shard() -> None:
    template = IdTemplate.parse("CP{:03d}")
    urls = ["ws://a/ocpp", "ws://b/ocpp", "ws://c/ocpp"]
    whole = range(1, 11)
    for distribution in ("round-robin", "random", "by-id"):
        everything = assign_urls(fleet_ids(template, 10, whole), whole, urls, distribution, 5)
        pieces: list[str] = []
        for i in range(3):
            part = ShardSpec(i, 3).slice(10)
            pieces += assign_urls(fleet_ids(template, 10, part), part, urls, distribution, 5)
        assert pieces == everything, distribution
    robin = assign_urls(fleet_ids(template, 10, whole), whole, urls, "round-robin", 0)
    assert robin[:4] == ["ws://a/ocpp", "ws://b/ocpp", "ws://c/ocpp", "ws://a/ocpp"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("http://csms/ocpp", "expected a ws:// or wss:// URL"),
        ("ws://csms:99999/ocpp", "not a WebSocket URL: Port out of range 0-65535"),
        ("ws://csms:0/ocpp", "not a WebSocket URL: port 0"),
        ("ws://[::1/ocpp", "not a WebSocket URL: Invalid IPv6 URL"),
        ("ws://user:s3cret@/ocpp", "not a WebSocket URL: hostname isn't provided"),
        ("ws://csms/ocpp#x", "not a WebSocket URL: fragment identifier is meaningless"),
    ],
)
def test_a_url_that_can_never_connect_is_named_with_its_line(
    tmp_path: Path, line: str, words: str
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# two CSMSs\nws://csms-a:9000/ocpp\n{line}\n")
    with pytest.raises(FleetUsageError) as caught:
        read_urls_file(urls)
    assert str(caught.value) == f"--urls-file {urls}:3: {words}"
    assert "s3cret" not in str(caught.value)
