"""The tamper-evident history (阳光 transparency): a hash chain per case and per deliberation
topic, and a daily root over both.

Every case event carries `hash = SHA-256(prev_hash + "\\n" + canonical content)`, where
`prev_hash` is the hash of the case's previous event (64 zeros for the first). Editing,
deleting or re-ordering any event breaks its case's chain from there on. Each day's root,
`SHA-256(previous root + "\\n" + the hashes of that day's events in id order)`, commits to
every chain at once; published roots let anyone holding an old one detect a rewrite.

Topic events (协商议事) are chained the same way with `topic_id` in place of `case_id`
(`subject="topic_id"`); a day's root covers that day's case events, then its topic events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


CASE = "case_id"
TOPIC = "topic_id"


def canonical(event: Mapping[str, Any], subject: str = CASE) -> str:
    """The event's content as one stable string (keys sorted, UTC times to the microsecond);
    `subject` names the chain's owner (`case_id` or `topic_id`)."""
    if subject not in (CASE, TOPIC):
        raise ValueError(f"unknown chain subject {subject!r}")
    content = {
        subject: event[subject],
        "seq": event["seq"],
        "action": event["action"],
        "from_status": event["from_status"],
        "to_status": event["to_status"],
        "actor_id": event["actor_id"],
        "actor_role": event["actor_role"],
        "payload": event["payload"] or {},
        "created_at": _time(event["created_at"]),
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(prev_hash: str, event: Mapping[str, Any], subject: str = CASE) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(event, subject)}".encode()).hexdigest()


def day_root(previous_root: str, event_hashes: Iterable[str]) -> str:
    """The root of one day: chained to the day before, over that day's events in id order."""
    digest = hashlib.sha256(previous_root.encode())
    for value in event_hashes:
        digest.update(b"\n" + value.encode())
    return digest.hexdigest()


def first_break(
    events: Iterable[Mapping[str, Any]], subject: str = CASE
) -> tuple[Mapping[str, Any], str] | None:
    """The first event of one case's (or topic's) chain (in seq order) whose link or hash is
    wrong, with why; None when the chain holds."""
    expected_prev = GENESIS
    expected_seq = 1
    for event in events:
        if event["seq"] != expected_seq:
            return event, f"seq {event['seq']} where {expected_seq} was expected (missing event)"
        if event["prev_hash"] != expected_prev:
            return event, "its prev_hash does not match the previous event"
        if event["hash"] != event_hash(expected_prev, event, subject):
            return event, "its content does not match its hash (edited)"
        expected_prev = event["hash"]
        expected_seq += 1
    return None
