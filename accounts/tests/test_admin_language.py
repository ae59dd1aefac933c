"""The admin speaks Chinese like the site: its header, its title, its greeting."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", full_name="周管理员", is_staff=True, is_superuser=True, department=None)


def test_the_admin_index_is_in_chinese(superuser, login):
    page = login(superuser).get(reverse("admin:index")).content.decode()
    assert '<html lang="zh-hans"' in page
    assert "客户交接管理后台" in page  # header and browser title
    assert "<title>系统管理 | 客户交接管理后台</title>" in page
    # Django's own catalogue: the greeting, by the person's name rather than the login.
    assert "欢迎，" in page and "<strong>周管理员</strong>" in page
    for english in ("Django administration", "Site administration", "Welcome,", "Log out"):
        assert english not in page, english


def test_the_admin_login_page_is_in_chinese(db, client):
    page = client.get(reverse("admin:login")).content.decode()
    assert "客户交接管理后台" in page
    assert "Django administration" not in page


def test_the_admin_speaks_english_when_chosen(superuser, login):
    browser = login(superuser)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = browser.get(reverse("admin:index")).content.decode()
    assert "Client handover administration" in page and "Welcome," in page
    assert "客户交接管理后台" not in page
