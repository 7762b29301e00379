"""Properties of the AT parser under random splits, URC interleavings and garbage.

Settings come from the ``fuzz`` profile of this folder's conftest (200 examples
per property in CI); ``python benchmarks/fuzz.py`` runs the same checks at scale.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .atstreams import any_bytes, check_payloads, check_robust, check_same_events, cuts, items

FUZZ = settings.get_profile("fuzz")
KINDS = ["quectel", "esp"]


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_payloads_survive_splits_urcs_and_garbage(kind: str, data: st.DataObject) -> None:
    stream = data.draw(items(kind), label="stream")
    size = sum(len(item.data) for item in stream)
    check_payloads(kind, stream, data.draw(cuts(size), label="cuts"))


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_same_events_whatever_the_split(kind: str, data: st.DataObject) -> None:
    raw = data.draw(any_bytes, label="bytes")
    check_same_events(kind, raw, data.draw(cuts(len(raw))), data.draw(cuts(len(raw))))


@FUZZ
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_never_raises_never_hangs(kind: str, data: st.DataObject) -> None:
    raw = data.draw(st.one_of(any_bytes, st.binary(max_size=5000)), label="bytes")
    check_robust(kind, raw, data.draw(cuts(len(raw)), label="cuts"))
