"""Countersign client for Python, standard library only (urllib): ask a person before an agent acts.

    from countersign import Countersign

    cs = Countersign.from_env()  # COUNTERSIGN_URL, COUNTERSIGN_API_KEY
    approval = cs.request_approval({
        "action": "db.migrate", "resource": "pg://prod/main",
        "requester": {"id": "deploy-agent", "type": "agent"},
    }, wait=600)
    if approval.approved:
        run_migration()
        cs.report_outcome(approval.id, "succeeded")
    else:
        print(approval.summary)  # "denied by carol@example.com: not during the freeze", "still pending ..."
"""
from .client import Approval, Countersign, CountersignError

__all__ = ["Approval", "Countersign", "CountersignError"]
