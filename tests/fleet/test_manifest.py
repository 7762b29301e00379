"""deploy/k8s/fleet-job.yaml against the Kubernetes OpenAPI schemas, offline.

kubernetes-validate ships the JSON schemas of every Kubernetes release in the wheel, so
this needs no cluster and no network; ``strict`` refuses fields the schema does not
know (a typo such as ``parallelsim`` is an error, not a silently ignored key).
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from chargepoint.fleet import ShardSpec

MANIFEST = Path(__file__).parents[2] / "deploy" / "k8s" / "fleet-job.yaml"


def _load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def _validate(doc: dict) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_job_is_valid_for_kubernetes() -> None:
    _validate(_load())


def test_the_validator_would_catch_a_typo_and_a_wrong_type() -> None:
    typo = _load()
    typo["spec"]["parallelsim"] = typo["spec"].pop("parallelism")
    wrong = _load()
    wrong["spec"]["completions"] = "ten"
    for bad in (typo, wrong):
        with pytest.raises(kubernetes_validate.ValidationError):
            _validate(copy.deepcopy(bad))


def test_every_pod_takes_its_own_slice_of_the_ids() -> None:
    doc = _load()
    spec = doc["spec"]
    assert spec["completionMode"] == "Indexed"
    pods = spec["completions"]
    args = spec["template"]["spec"]["containers"][0]["args"]
    assert f"--shard-from-env={pods}" in args
    count = int(next(a for a in args if a.startswith("--count=")).split("=")[1])
    slices = [ShardSpec(i, pods).slice(count) for i in range(pods)]
    assert [n for s in slices for n in s] == list(range(1, count + 1))


def _mib(quantity: str) -> float:
    """A Kubernetes memory quantity (``1Gi``, ``1536Mi``) in MiB."""
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_each_pod_asks_for_what_the_benchmark_measured_for_its_slice() -> None:
    """The README's benchmark row for one pod's share of the fleet (10,000 chargers):
    the memory request covers its steady RSS and the limit twice its peak."""
    doc = _load()
    args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
    count = int(next(a for a in args if a.startswith("--count=")).split("=")[1])
    per_pod = count // doc["spec"]["completions"]
    readme = (MANIFEST.parents[2] / "README.md").read_text()
    row = next(
        line.split("|")
        for line in readme.splitlines()
        if line.startswith(f"| {per_pod:,} | {per_pod:,} |")
    )
    steady, peak = (float(cell.strip().removesuffix(" MiB")) for cell in row[4:6])
    resources = doc["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert _mib(resources["requests"]["memory"]) >= steady
    assert _mib(resources["limits"]["memory"]) >= 2 * peak
    assert f"take {steady:.0f} MiB resident ({peak:.0f} at the peak)" in MANIFEST.read_text()
