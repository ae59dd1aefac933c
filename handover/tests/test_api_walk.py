"""One whole handover through the JSON API alone, from the HR system's departure to the sealed PDF.

Each person obtains their own token with their username and password and does their own steps,
as an integrator's client would: nothing here calls a service, a page or tests/walk.py. The README's
"A handover through the API, with curl" shows these very requests in this order; this test keeps
that walk from rotting. Only the people, their client book and the department's defaults are made
with factories (an administrator sets those in the admin).
"""

import datetime
import hashlib
import io

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

TODAY = timezone.localdate


@pytest.fixture
def company(people, book):
    """The departing person's department knows its default witness and manager (set in the admin)."""
    people.east.default_witness = people.witness
    people.east.default_manager = people.manager
    people.east.save()
    return people


def signed_in(username: str, password: str) -> APIClient:
    """An API client with this person's own token, obtained as any client obtains it."""
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def ok(response, status: int = 200):
    assert response.status_code == status, response.content
    return response.json()


class Walk:
    """The requests of one handover, each answer checked for its status."""

    def __init__(self, pk: int):
        self.pk = pk

    def url(self, rest: str = "") -> str:
        return f"/api/handovers/{self.pk}/{rest}"

    def get(self, api: APIClient, rest: str = "") -> dict:
        return ok(api.get(self.url(rest)))

    def post(self, api: APIClient, rest: str, body=None, status: int = 200) -> dict:
        return ok(api.post(self.url(rest), body or {}, format="json"), status)

    def move(self, api: APIClient, name: str, *, signer=None, password: str = "") -> dict:
        """Run a transition; an approval carries the approver's typed signature with their password."""
        body = {}
        if signer is not None:
            body["signature"] = {"method": "typed", "typed_name": signer.full_name, "password": password}
        return self.post(api, f"transitions/{name}/", body)

    def sign(self, api: APIClient, purpose: str, signer, password: str) -> dict:
        body = {"purpose": purpose, "method": "typed", "typed_name": signer.full_name, "password": password}
        return self.post(api, "signatures/", body, status=201)


def test_a_whole_handover_through_the_api_from_the_hr_system_to_the_sealed_archive(
    company, book, password, sealed, django_capture_on_commit_callbacks
):
    p = company
    hr = signed_in(p.hr.username, password)
    departing = signed_in(p.departing.username, password)
    receiver = signed_in(p.receiver.username, password)
    supervisor = signed_in(p.supervisor.username, password)
    manager = signed_in(p.manager.username, password)
    witness = signed_in(p.witness.username, password)

    # HR's system registers the departure (employee numbers, as /api/people/ shows them): the
    # handover starts with the person's supervisor and the department's defaults.
    (found,) = ok(hr.get("/api/people/", {"q": p.departing.username}))["results"]
    assert (found["id"], found["employee_no"]) == (p.departing.pk, p.departing.employee_no)
    departure = {
        "external_id": "HR-2026-0042",
        "employee_no": found["employee_no"],
        "kind": "resignation",
        "notice_date": str(TODAY()),
        "last_working_day": str(TODAY() + datetime.timedelta(days=30)),
        "receiver_employee_nos": [p.receiver.employee_no],
    }
    started = ok(hr.post("/api/hr/departures/", departure, format="json"), 201)
    assert started["handover_state"] == "plan"
    walk = Walk(started["handover"])
    h = walk.get(departing)
    assert (h["state"], h["supervisor"]["id"], h["witness"]["id"], h["manager"]["id"], h["receiver"]["id"]) == (
        "plan",
        p.supervisor.pk,
        p.witness.pk,
        p.manager.pk,
        p.receiver.pk,
    )
    assert len(h["clients"]) == len(book)

    # The plan: every row saved together (keeping what the book prefilled, filling what it left
    # empty); saving confirms the prefilled fields.
    rows = [
        {
            "handover_client": c["id"],
            "row_version": c["row_version"],
            "current_status": c["current_status"] or "合作正常，订单按期执行。",
            "risks": c["risks"] or "暂无明显风险。",
            "next_steps": c["next_steps"] or "与接收人共同拜访，介绍新对接人。",
            "planned_visit_on": c["planned_visit_on"] or str(TODAY()),
        }
        for c in h["clients"]
    ]
    saved = walk.post(departing, "plan/rows/", {"rows": rows})
    assert len(saved["clients"]) == len(book)
    assert all(c["prefilled"] == [] for c in saved["clients"])
    assert "submit_plan" in walk.get(departing)["available_transitions"]
    assert walk.move(departing, "submit_plan")["state"] == "plan_review"
    h = walk.move(supervisor, "approve_plan_review", signer=p.supervisor, password=password)
    assert h["state"] == "plan_approval"
    assert walk.move(manager, "approve_plan", signer=p.manager, password=password)["state"] == "materials"

    # The materials: handed over, confirmed, the receipt signed by the receiver.
    items = walk.get(departing, "items/?page_size=200")
    assert items["count"] > 0
    assert walk.post(departing, "items/hand-over-all/") == {"count": items["count"]}
    assert walk.post(receiver, "items/confirm-all/") == {"count": items["count"]}
    assert {i["status"] for i in walk.get(receiver, "items/?page_size=200")["results"]} == {"confirmed"}
    walk.sign(receiver, "materials_receipt", p.receiver, password)
    assert walk.move(departing, "submit_materials")["state"] == "materials_review"
    h = walk.move(supervisor, "approve_materials", signer=p.supervisor, password=password)
    assert h["state"] == "visits"

    # The joint visits: one row per client (an A client in person), confirmed by the receiver,
    # the record signed by the receiver.
    yesterday = str(TODAY() - datetime.timedelta(days=1))
    visits = [
        {
            "handover_client": c["id"],
            "row_version": c["row_version"],
            "visited_on": yesterday,
            "mode": "in_person" if c["grade"] == "A" else "joint_call",
            "contact_met": "采购负责人",
            "outcome": "已当面介绍新对接人，客户表示认可。",
            "concerns": "希望价格政策保持不变。",
        }
        for c in h["clients"]
    ]
    assert walk.post(departing, "visits/rows/", {"rows": visits})["count"] == len(book)
    assert walk.post(receiver, "visits/confirm/") == {"count": len(book)}
    assert all(v["is_confirmed"] for v in walk.get(receiver, "visits/?page_size=200")["results"])
    walk.sign(receiver, "visits", p.receiver, password)
    assert walk.move(departing, "submit_visits")["state"] == "visits_review"
    h = walk.move(supervisor, "approve_visits", signer=p.supervisor, password=password)
    assert h["state"] == "spot_check"

    # The phone spot-check: the witness calls the sampled clients (every A client among them).
    sampled = [c for c in walk.get(witness)["clients"] if c["in_sample"]]
    assert {c["id"] for c in h["clients"] if c["grade"] == "A"} <= {c["id"] for c in sampled}
    calls = [{"handover_client": c["id"], "row_version": c["row_version"], "result": "confirmed"} for c in sampled]
    assert walk.post(witness, "phone-checks/rows/", {"rows": calls})["count"] == len(sampled)
    assert walk.move(witness, "finish_spot_check")["state"] == "report"

    # The report, reviewed by the supervisor.
    report = {
        "summary": "全部客户已完成交接，重点客户均已共同拜访。",
        "open_risks": "个别客户存在逾期应收款，需接收人跟进催收。",
        "advice": "优先跟进A类客户的续约。",
    }
    assert ok(departing.put(walk.url("report/"), report, format="json"))["summary"] == report["summary"]
    assert walk.move(departing, "submit_report")["state"] == "report_review"
    h = walk.move(supervisor, "approve_report_review", signer=p.supervisor, password=password)
    assert h["state"] == "report_approval"

    # The three parties sign the checklist; only then may the manager give the final approval.
    assert "approve_report" not in walk.get(manager)["available_transitions"]
    for api, person in ((departing, p.departing), (receiver, p.receiver), (witness, p.witness)):
        walk.sign(api, "checklist", person, password)
    assert "approve_report" in walk.get(manager)["available_transitions"]
    # The final approval answers at once; the archive is made after its commit (inline here).
    with django_capture_on_commit_callbacks(execute=True):
        h = walk.move(manager, "approve_report", signer=p.manager, password=password)
    assert h["state"] == "completed" and h["completed_at"]
    assert all(s["valid"] for s in walk.get(hr, "signatures/"))

    # HR follows the archive until it is ready, downloads the sealed PDF and verifies it.
    for _attempt in range(5):
        archive = walk.get(hr, "archive/")
        if archive["progress"] == "ready":
            break
    assert archive["progress"] == "ready", archive
    assert archive["download_url"] == f"/api/archive/{walk.pk}/download/"
    download = hr.get(archive["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    pdf = b"".join(download.streaming_content)
    assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == archive["sha256"]
    by_code = ok(hr.get("/api/archive/verify/", {"code": archive["verification_code"]}))
    assert by_code["matches"] and by_code["handover"] == walk.pk
    upload = io.BytesIO(pdf)
    upload.name = "confirmation.pdf"
    by_file = ok(hr.post("/api/archive/verify/", {"file": upload}, format="multipart"))
    assert by_file["matches"] and by_file["seal"]["ok"] and by_file["seal"]["untouched"]
    listed = ok(hr.get("/api/archive/"))["results"]
    assert [(e["handover"], e["archived"]) for e in listed] == [(walk.pk, True)]
    assert ok(hr.get("/api/hr/departures/HR-2026-0042/"))["handover_state"] == "completed"

    # The timeline holds every stage of the procedure, in order.
    events = walk.get(hr, "events/?page_size=200")["results"]
    states = [e["to_state"] for e in events if e["kind"] == "transition"]
    assert states == [
        "plan_review",
        "plan_approval",
        "materials",
        "materials_review",
        "visits",
        "visits_review",
        "spot_check",
        "report",
        "report_review",
        "report_approval",
        "completed",
    ]


def test_the_readme_walk_names_only_endpoints_and_steps_that_exist_in_this_order():
    """The README's curl walk: each URL it calls resolves to an API view, and its transitions and
    signatures are the test's above, in the same order."""
    import re
    from pathlib import Path

    from django.conf import settings
    from django.urls import resolve

    from handover.flow import SIGNED_AT, TRANSITIONS

    readme = (Path(settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A handover through the API, with curl", 1)[1]
    script = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    paths = re.findall(r"\$API(/[\w/$-]*)", script)
    assert len(paths) > 15
    for path in paths:
        path = path.replace("$H", "1").replace("$2", "submit_plan")
        assert resolve(f"/api{path}").namespace == "api", path
    moves = re.findall(r"^move \$TOKEN_\w+ (\w+)", script, flags=re.MULTILINE)
    assert all(name in TRANSITIONS for name in moves)
    assert moves == [
        "submit_plan",
        "approve_plan_review",
        "approve_plan",
        "submit_materials",
        "approve_materials",
        "submit_visits",
        "approve_visits",
        "finish_spot_check",
        "submit_report",
        "approve_report_review",
        "approve_report",
    ]
    signs = re.findall(r"sign \$TOKEN_\w+ (\w+)", script)
    assert signs == ["materials_receipt", "visits", "checklist", "checklist", "checklist"]
    assert set(signs) <= set(SIGNED_AT)
