"""The site's refusals and crashes are pages in Chinese, not Django's English defaults.

DEBUG is off in these tests, as in production: with DEBUG on Django shows its technical pages.
Under /api/ the answers stay JSON (handover/tests/test_api_errors.py).
"""

import pytest
from django.template import loader
from django.test import Client
from django.urls import reverse

from handover import views as handover_views


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def html(response) -> str:
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_an_unknown_page_is_404_in_chinese(people, login):
    response = login(people.departing).get("/handovers/nothing-here/")
    assert response.status_code == 404
    page = html(response)
    assert "页面不存在" in page and "返回首页" in page
    assert "Not Found" not in page and "Page not found" not in page
    # The site's own page: its navigation, for the person logged in.
    assert "退出登录" in page


def test_an_unknown_page_is_404_in_chinese_before_logging_in(db):
    response = Client().get("/nothing-here/")
    assert response.status_code == 404
    assert "页面不存在" in html(response)


def test_an_object_that_does_not_exist_is_404_in_chinese(people, login):
    response = login(people.supervisor).get(reverse("handover:detail", args=[999999]))
    assert response.status_code == 404
    assert "页面不存在" in html(response)


def test_a_refusal_is_403_in_chinese(people, login):
    # A salesperson may not start a handover.
    response = login(people.departing).get(reverse("handover:start"))
    assert response.status_code == 403
    page = html(response)
    assert "无权访问" in page and "您无权打开此页面" in page
    assert "403 Forbidden" not in page


def test_a_refusal_with_a_reason_shows_the_reason(people, login, handover):
    # The departing person may no longer export once the handover started.
    response = login(people.departing).get(reverse("clients:export"), {"format": "csv"})
    assert response.status_code == 403
    page = html(response)
    assert "无权访问" in page
    assert "您的客户正在交接中，不能再导出。" in page


def test_a_form_without_its_csrf_token_is_403_in_chinese(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.departing)
    response = client.post(reverse("notifications"), {})
    assert response.status_code == 403
    page = html(response)
    assert "表单已过期" in page
    assert "CSRF verification failed" not in page


def test_a_crash_is_500_in_chinese(people, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(handover_views, "render", crash)
    client = Client(raise_request_exception=False)
    client.force_login(people.departing)
    response = client.get(reverse("handover:list"))
    assert response.status_code == 500
    page = html(response)
    assert "系统出错了" in page and "返回首页" in page
    assert "a bug" not in page and "Server Error" not in page


def test_the_500_page_renders_with_no_request_and_no_database():
    # server_error renders it with an empty context: the database may be what failed. (No db
    # fixture: any query would raise.)
    page = loader.get_template("500.html").render()
    assert "系统出错了" in page
    assert '<html lang="zh-hans">' in page


def test_the_400_page_renders_with_no_request_and_no_database():
    page = loader.get_template("400.html").render()
    assert "请求无效" in page


def test_the_api_keeps_answering_json(people):
    client = Client()
    client.force_login(people.departing)
    response = client.get("/api/handovers/nothing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
