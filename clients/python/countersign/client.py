"""The client: idempotent submission, repeated long-polls to a deadline, Retry-After on 429/503, typed errors."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

FINAL = ("approved", "denied", "expired", "cancelled")
RETRYABLE = (429, 503)


class CountersignError(Exception):
    """An error answer from the service: HTTP status (0 if unreachable), stable code, message, field, Retry-After."""

    def __init__(self, status: int, code: str, message: str, field: Optional[str] = None,
                 details: Optional[Dict[str, Any]] = None, retry_after: Optional[float] = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}
        self.retry_after = retry_after


@dataclass
class Approval:
    """One request's state. ``approved`` is true only when the service approved it (by people or policy)."""

    id: str
    status: str
    rule: Optional[str] = None
    decided_by: Optional[str] = None
    reason: Optional[str] = None
    approvers: List[str] = field(default_factory=list)
    deniers: List[str] = field(default_factory=list)
    grant: Optional[str] = None
    timed_out: bool = False
    request: Optional[Dict[str, Any]] = None

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def summary(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        if self.status == "approved":
            return "approved by " + (", ".join(self.approvers) or self.decided_by or "policy")
        if self.status == "denied":
            return "denied by " + (", ".join(self.deniers) or self.decided_by or "policy") + why
        if self.status == "expired":
            return "expired: no decision before the request expired"
        if self.status == "cancelled":
            return "cancelled" + why
        return f"still pending (request {self.id}): not approved yet" if self.timed_out else f"pending (request {self.id})"

    @classmethod
    def from_request(cls, r: Dict[str, Any], timed_out: bool = False) -> "Approval":
        votes = r.get("votes") or []
        who = lambda v: v["approver"].get("email") or v["approver"].get("name") or v.get("personKey")  # noqa: E731
        deny_reason = next((v.get("reason") for v in votes if v["decision"] == "deny" and v.get("reason")), None)
        return cls(
            id=r["id"], status=r["status"], rule=(r.get("policy") or {}).get("rule"), decided_by=r.get("decidedBy"),
            reason=r.get("decisionReason") or deny_reason,
            approvers=[who(v) for v in votes if v["decision"] == "approve"],
            deniers=[who(v) for v in votes if v["decision"] == "deny"],
            grant=r.get("grant") if r["status"] == "approved" else None,
            timed_out=timed_out and r["status"] == "pending", request=r,
        )

    @classmethod
    def from_intake(cls, a: Dict[str, Any]) -> "Approval":
        return cls(id=a["id"], status=a["status"], rule=a.get("rule"), reason=a.get("reason"),
                   decided_by=None if a["status"] == "pending" else "policy")


class Countersign:
    """A client for one Countersign service and API key (scope submit, plus read to wait for decisions)."""

    def __init__(self, base_url: str, api_key: str, max_wait_seconds: int = 50, max_retry_delay: float = 30.0,
                 timeout_margin: float = 15.0):
        if not base_url or not api_key:
            raise ValueError("Countersign needs base_url (COUNTERSIGN_URL) and api_key (COUNTERSIGN_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.max_wait_seconds = max_wait_seconds
        self.max_retry_delay = max_retry_delay
        self._timeout_margin = timeout_margin

    @classmethod
    def from_env(cls, env: Optional[Dict[str, str]] = None) -> "Countersign":
        env = os.environ if env is None else env
        return cls(env.get("COUNTERSIGN_URL", ""), env.get("COUNTERSIGN_API_KEY", ""))

    def _call(self, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
              wait: float = 0, deadline: Optional[float] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"authorization": f"Bearer {self._api_key}", "accept": "application/json", **(headers or {})}
        if data is not None:
            all_headers["content-type"] = "application/json"
        for attempt in range(1, 11):
            req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(req, timeout=wait + self._timeout_margin) as res:
                    text = res.read().decode()
                    return (json.loads(text) if text else None), res.headers
            except urllib.error.HTTPError as e:
                text = e.read().decode()
                try:
                    err = (json.loads(text) if text else {}).get("error") or {}
                except ValueError:
                    err = {}
                retry_after = e.headers.get("retry-after")
                error = CountersignError(e.code, err.get("code") or f"http_{e.code}", err.get("message") or e.reason,
                                         err.get("field"), err.get("details"), float(retry_after) if retry_after else None)
            except (urllib.error.URLError, OSError) as e:
                raise CountersignError(0, "unreachable", f"Countersign at {self.base_url} could not be reached: {e}") from e
            if error.status not in RETRYABLE or attempt == 10:
                raise error
            delay = max(0.2, error.retry_after or 1.0)
            if delay > self.max_retry_delay or (deadline is not None and time.monotonic() + delay > deadline):
                raise error
            time.sleep(delay)
        raise AssertionError("unreachable")

    def submit(self, request: Dict[str, Any], idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """``POST /v1/requests`` without waiting; retries reuse the idempotency key, so they never ask twice."""
        key = idempotency_key or str(uuid.uuid4())
        answer, headers = self._call("POST", "/v1/requests", request, {"idempotency-key": key})
        return {**answer, "idempotencyKey": key, "replayed": headers.get("idempotent-replayed") == "true"}

    def get(self, request_id: str, wait_seconds: int = 0) -> Dict[str, Any]:
        """``GET /v1/requests/:id``, long-polling up to ``wait_seconds`` for a decision."""
        query = f"?wait={int(wait_seconds)}" if wait_seconds else ""
        return self._call("GET", f"/v1/requests/{urllib.parse.quote(request_id)}{query}", wait=wait_seconds)[0]

    def wait(self, request_id: str, timeout: Optional[float] = None) -> Approval:
        """Waits through repeated long-polls until decided or expired, or ``timeout`` seconds pass (``timed_out``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = float("inf") if deadline is None else deadline - time.monotonic()
            wait = int(max(0, min(self.max_wait_seconds, remaining)))
            try:
                r = self._call("GET", f"/v1/requests/{urllib.parse.quote(request_id)}" + (f"?wait={wait}" if wait else ""),
                               wait=wait, deadline=deadline)[0]
            except CountersignError as e:
                if e.status == 400 and e.field == "wait" and wait > 0:
                    # The service's MAX_WAIT_SECONDS is below ours: ask for less from now on.
                    self.max_wait_seconds = wait // 2
                    continue
                if e.status in RETRYABLE and deadline is not None:
                    return Approval.from_request(self.get(request_id), timed_out=True)
                raise
            if r["status"] != "pending":
                return Approval.from_request(r)
            if deadline is not None and time.monotonic() >= deadline - 0.25:
                return Approval.from_request(r, timed_out=True)
            if wait == 0:
                time.sleep(min(1.0, max(0.0, remaining)))

    def request_approval(self, request: Dict[str, Any], wait: Optional[float] = None, block: bool = True,
                         idempotency_key: Optional[str] = None) -> Approval:
        """Submits (idempotently), then waits until decided, expired, or ``wait`` seconds pass. A "no" is a result."""
        answer = self.submit(request, idempotency_key)
        if not block:
            return Approval.from_intake(answer)
        return self.wait(answer["id"], timeout=wait if answer["status"] == "pending" else 0)

    def report_outcome(self, request_id: str, status: str, detail: Optional[str] = None) -> Dict[str, Any]:
        """``POST /v1/requests/:id/outcome``: ``succeeded``, ``failed`` or ``aborted`` (once, approved requests)."""
        body: Dict[str, Any] = {"status": status}
        if detail:
            body["detail"] = detail[:4000]
        return self._call("POST", f"/v1/requests/{urllib.parse.quote(request_id)}/outcome", body)[0]

    def cancel(self, request_id: str, reason: Optional[str] = None) -> Dict[str, Any]:
        return self._call("POST", f"/v1/requests/{urllib.parse.quote(request_id)}/cancel", {"reason": reason} if reason else {})[0]
