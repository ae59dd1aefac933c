"""A load test of the running site: the demo company's people at work, pages and API.

Run it with scripts/loadtest.sh (gunicorn + the database and Redis of the environment, the demo
company loaded), or by hand against any server with the demo data:

    .venv/bin/locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 50 -r 10 -t 60s

Each simulated person logs in through the login page (the CSRF token read from the form, as a
browser does), then works: the to-do list, the handover list, a handover's tabs, the client list
and a search, the notifications; an API client gets a token and reads the handovers. locust is a
development tool: requirements-dev.txt, never the runtime requirements.
"""

import random
import re

from locust import HttpUser, between, task

PASSWORD = "Demo@2026"  # noqa: S105 - the published password of the demo accounts (demo/company.py)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HANDOVER_LINK = re.compile(r'href="/handovers/(\d+)/"')
TABS = ["", "mine", "plan", "materials", "visits", "spot_check", "report", "timeline"]
SEARCHES = ["科技", "医疗器械", "上海", "有限公司", "9132", "138"]


class Person(HttpUser):
    """Someone of the demo company working in the pages."""

    abstract = True
    wait_time = between(1, 3)
    usernames: list[str] = []

    def on_start(self):
        self.username = random.choice(self.usernames)
        page = self.client.get("/accounts/login/", name="login page")
        token = CSRF.search(page.text)
        self.client.post(
            "/accounts/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1) if token else ""},
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="login",
        )
        listing = self.client.get("/handovers/", name="handover list")
        self.handovers = sorted(set(HANDOVER_LINK.findall(listing.text))) or []

    @task(3)
    def inbox(self):
        self.client.get("/handovers/inbox/", name="to-do list")

    @task(2)
    def handover_list(self):
        self.client.get("/handovers/", name="handover list")

    @task(6)
    def handover_tab(self):
        if not self.handovers:
            return
        pk = random.choice(self.handovers)
        tab = random.choice(TABS)
        self.client.get(f"/handovers/{pk}/" + (f"?tab={tab}" if tab else ""), name="handover page (a tab)")

    @task(3)
    def clients(self):
        self.client.get("/clients/", name="client list")

    @task(3)
    def search(self):
        self.client.get(f"/clients/?q={random.choice(SEARCHES)}", name="client search")

    @task(1)
    def notifications(self):
        self.client.get("/notifications/", name="notifications")


class Salesperson(Person):
    weight = 5
    usernames = ["lihua", "zhangwei", "chenjing", "liuyang", "sunli", "wumin"]


class Supervisor(Person):
    weight = 2
    usernames = ["wangjianguo"]


class ManagerOrHR(Person):
    weight = 2
    usernames = ["mayongqiang", "xuxiaoyan", "qianjin"]


class ApiClient(HttpUser):
    """A program using the API with a token."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self):
        answer = self.client.post(
            "/api/auth/token/", json={"username": "xuxiaoyan", "password": PASSWORD}, name="api: token"
        )
        token = answer.json().get("token", "") if answer.ok else ""
        self.client.headers["Authorization"] = f"Token {token}"
        listing = self.client.get("/api/handovers/", name="api: handovers")
        self.handovers = [h["id"] for h in listing.json().get("results", [])] if listing.ok else []

    @task(2)
    def handovers(self):
        self.client.get("/api/handovers/", name="api: handovers")

    @task(3)
    def handover(self):
        if self.handovers:
            self.client.get(f"/api/handovers/{random.choice(self.handovers)}/", name="api: handover")

    @task(1)
    def events(self):
        if self.handovers:
            self.client.get(f"/api/handovers/{random.choice(self.handovers)}/events/", name="api: timeline")
