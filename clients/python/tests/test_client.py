"""Tests against a running Countersign (started by test/agents/python-client.test.ts, or point COUNTERSIGN_URL at one).

COUNTERSIGN_API_KEY submits; COUNTERSIGN_TEST_APPROVER_KEY is an attest key that votes as the test's approvers.
"""
import json
import os
import sys
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from countersign import Countersign, CountersignError  # noqa: E402

URL = os.environ.get("COUNTERSIGN_URL")


def vote(request_id, email, decision, reason=None):
    body = {"approver": {"email": email}, "decision": decision, **({"reason": reason} if reason else {})}
    req = urllib.request.Request(f"{URL}/v1/requests/{request_id}/decisions", data=json.dumps(body).encode(), method="POST",
                                 headers={"authorization": f"Bearer {os.environ['COUNTERSIGN_TEST_APPROVER_KEY']}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read())


def ask(action="service.restart", **extra):
    return {"action": action, "resource": "k8s://prod/payments", "environment": "production", "risk": "high",
            "requester": {"id": "py-agent", "type": "agent"}, "traceId": str(uuid.uuid4()), **extra}


@unittest.skipUnless(URL, "COUNTERSIGN_URL is not set")
class CountersignClientTest(unittest.TestCase):
    def setUp(self):
        self.cs = Countersign.from_env()

    def test_routine_action_is_approved_by_policy_at_once(self):
        a = self.cs.request_approval(ask("table.read", environment="dev"))
        self.assertTrue(a.approved)
        self.assertEqual(a.summary, "approved by policy")
        self.assertEqual(self.cs.report_outcome(a.id, "succeeded", "read 3 rows")["outcome"], "succeeded")

    def test_waits_until_a_person_approves(self):
        submitted = self.cs.request_approval(ask(), block=False)
        self.assertEqual(submitted.status, "pending")
        threading.Timer(0.5, vote, args=(submitted.id, "alice@example.com", "approve")).start()
        a = self.cs.wait(submitted.id, timeout=20)
        self.assertTrue(a.approved)
        self.assertEqual(a.approvers, ["alice@example.com"])

    def test_denial_says_who_and_why(self):
        submitted = self.cs.request_approval(ask(), block=False)
        vote(submitted.id, "bob@example.com", "deny", "not during the freeze")
        a = self.cs.request_approval(ask(), wait=2)  # another request: still pending at the deadline
        self.assertFalse(a.approved)
        self.assertTrue(a.timed_out)
        self.assertIn("not approved yet", a.summary)
        denied = self.cs.wait(submitted.id, timeout=5)
        self.assertEqual(denied.summary, "denied by bob@example.com: not during the freeze")

    def test_policy_denial_and_idempotency(self):
        self.assertEqual(self.cs.request_approval(ask("table.delete")).summary, "denied by policy: Deletes are never allowed for agents.")
        body = ask()
        first = self.cs.submit(body, idempotency_key="py-run-" + body["traceId"])
        again = self.cs.submit(body, idempotency_key="py-run-" + body["traceId"])
        self.assertEqual(again["id"], first["id"])
        self.assertTrue(again["replayed"])

    def test_errors_carry_status_code_and_field(self):
        with self.assertRaises(CountersignError) as bad:
            self.cs.submit(ask(requester={"id": "x", "type": "robot"}))
        self.assertEqual((bad.exception.status, bad.exception.code, bad.exception.field), (400, "validation_failed", "requester.type"))
        with self.assertRaises(CountersignError) as unauthorized:
            Countersign(URL, "not-a-key").submit(ask())
        self.assertEqual((unauthorized.exception.status, unauthorized.exception.code), (401, "unauthorized"))
        with self.assertRaises(CountersignError) as down:
            Countersign("http://127.0.0.1:9", "k").submit(ask())
        self.assertEqual(down.exception.code, "unreachable")

    def test_deadline_bounds_the_wait(self):
        started = time.monotonic()
        a = self.cs.request_approval(ask(), wait=1)
        self.assertTrue(a.timed_out)
        self.assertLess(time.monotonic() - started, 30)


if __name__ == "__main__":
    unittest.main()
