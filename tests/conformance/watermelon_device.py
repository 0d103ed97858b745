"""A real WatermelonDB device in a Node.js child process (`device.js`), driven from a test.

One JSON command per line on the child's stdin, one JSON answer per line on its stdout.
A crash, a hang or a refused start fails the test with the driver's stderr attached.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import pytest

DEVICE_JS = Path(__file__).resolve().with_name("device.js")
ROOT = DEVICE_JS.parents[2]
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0  # a sync is a pull and a push, each bounded by 30 s inside the driver


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node (Node.js 20) is not on PATH: `make test` installs it")
    if not (ROOT / "node_modules" / "@nozbe" / "watermelondb").is_dir():
        pytest.fail("node_modules/@nozbe/watermelondb is missing: run `npm ci` (make test does)")
    return node


class WatermelonDevice:
    """One phone: a WatermelonDB 0.28 database (LokiJS, in memory) syncing with the server."""

    def __init__(self, server_url: str, token: str, name: str, log_dir: Path) -> None:
        self.name = name
        self.token = token
        self.stderr_path = log_dir / f"device-{name}.stderr.log"
        self._stderr: IO[bytes] = self.stderr_path.open("wb")
        command = [node_binary(), str(DEVICE_JS), "--server", server_url, "--token", token]
        self.process = subprocess.Popen(
            [*command, "--name", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=ROOT,
        )
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stdout, name=f"device-{name}", daemon=True).start()
        self.ready = self._answer(START_TIMEOUT)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._answers.put(raw.decode("utf-8", errors="replace"))
        self._answers.put(None)  # end of file: the process is gone

    def stderr_tail(self, chars: int = 6000) -> str:
        return self.stderr_path.read_text(errors="replace")[-chars:]

    def _fail(self, what: str) -> None:
        self.kill()
        pytest.fail(
            f"WatermelonDB device {self.name!r}: {what}\n--- device.js stderr (tail) ---\n"
            f"{self.stderr_tail()}",
            pytrace=False,
        )

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self._fail(f"no answer within {timeout:.0f} s (hung)")
            raise AssertionError("unreachable") from None
        if line is None:
            code = self.process.wait(timeout=5)
            self._fail(f"device.js exited (code {code})")
        assert line is not None
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:
            self._fail(f"answered something that is not JSON: {line!r}")
            raise
        if answer.get("event") == "fatal":
            self._fail(f"fatal: {answer.get('error')} (HTTP {answer.get('status')})")
        return answer

    def _send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail(f"stdin closed while sending {command['cmd']}")

    def call(self, command: dict[str, Any], timeout: float = COMMAND_TIMEOUT) -> dict[str, Any]:
        """Send a command and return its answer, whatever `ok` says."""
        self._send(command)
        return self._answer(timeout)

    def must(self, command: dict[str, Any]) -> dict[str, Any]:
        answer = self.call(command)
        assert answer.get("ok") is True, f"{self.name}: {command['cmd']} failed: {answer}"
        return answer

    # --- the device's own database -------------------------------------------------------------

    def create(self, table: str, **fields: Any) -> str:
        return str(self.must({"cmd": "create", "table": table, "fields": fields})["id"])

    def update(self, table: str, record_id: str, **fields: Any) -> dict[str, Any]:
        answer = self.must({"cmd": "update", "table": table, "id": record_id, "fields": fields})
        return dict(answer["record"])

    def delete(self, table: str, record_id: str) -> None:
        self.must({"cmd": "delete", "table": table, "id": record_id})

    def records(self, table: str) -> dict[str, dict[str, Any]]:
        """The table's live records by id (what the app would show)."""
        answer = self.must({"cmd": "query", "table": table})
        return {r["id"]: r for r in answer["records"]}

    def locally_deleted(self, table: str) -> list[str]:
        """Ids marked as deleted and not yet pushed."""
        return list(self.must({"cmd": "query", "table": table})["deleted"])

    # --- sync ----------------------------------------------------------------------------------

    def sync(self) -> dict[str, Any]:
        """`synchronize()` once; its report (`pulled`, `pushed`, `rejected`, `warnings`, or
        `ok: false` with the HTTP `status`)."""
        return self.call({"cmd": "sync"})

    def sync_losing_the_push_answer(self) -> dict[str, Any]:
        """A sync whose push the server applies but whose answer never reaches the phone."""
        report = self.call({"cmd": "sync", "dropPushResponse": True})
        assert report.get("ok") is False and report.get("phase") == "push", report
        return report

    def sync_ok(self) -> dict[str, Any]:
        """A sync that succeeds and that WatermelonDB has nothing to complain of: no "[Sync]"
        error logged, no pulled value it had to coerce or drop."""
        report = self.sync()
        assert report.get("ok") is True, f"{self.name}: sync failed: {report}"
        complaints = [w for w in report.get("warnings", []) if "[Sync]" in w]
        assert not complaints, f"{self.name}: WatermelonDB complained: {complaints}"
        assert report.get("problems") == [], f"{self.name}: pulled records: {report['problems']}"
        return report

    def sync_until_pulled(self) -> dict[str, Any]:
        """Start a sync that stops after the pull (before applying it and pushing);
        returns the `pulled` event. Finish with `resume()`."""
        self._send({"cmd": "sync", "pauseAfterPull": True})
        event = self._answer(COMMAND_TIMEOUT)
        assert event.get("event") == "pulled", f"{self.name}: expected the pulled event: {event}"
        return event

    def resume(self) -> dict[str, Any]:
        return self.call({"cmd": "continue"})

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Ask the driver to exit; kill it if it does not."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(b'{"cmd":"exit"}\n')
                self.process.stdin.flush()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._stderr.close()
