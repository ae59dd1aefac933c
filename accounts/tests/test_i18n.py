"""The UI speaks Simplified Chinese first, English on request.

The .mo files are not in git (scripts/setup.sh compiles them); this module compiles them
itself when they are missing or older than their .po, so `pytest` alone works too.
"""

import ast
import contextlib
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
ZH_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.po"
LOCALES = ["zh_Hans", "en"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


def _stale_catalogs():
    stale = []
    for locale in LOCALES:
        po = LOCALE_DIR / locale / "LC_MESSAGES" / "django.po"
        mo = po.with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            stale.append(locale)
    return stale


@pytest.fixture(scope="module", autouse=True)
def _compiled_catalogs():
    stale = _stale_catalogs()
    if stale:
        with contextlib.chdir(settings.BASE_DIR):
            call_command(
                "compilemessages",
                locale=stale,
                ignore_patterns=[".venv", "staticfiles", "node_modules"],
                verbosity=0,
            )
        # Catalogs already loaded by earlier tests were read without the new .mo files.
        trans_real._translations = {}
        trans_real._default = None
        trans_real._active = trans_real.Local()
    yield


def _po_entries(path):
    """Entries of a .po file: dicts with flags, msgid, msgid_plural and msgstr (msgstr[0] for plurals).

    Obsolete entries (#~) are left out; the header is the entry whose msgid is "".
    """
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry = {"flags": set(), "msgid": None, "msgid_plural": None, "msgstr": None}
        field = None
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#~"):
                continue
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
                continue
            if line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            if line.startswith('"'):
                keyword, rest = None, line
            elif keyword in ("msgid", "msgid_plural", "msgstr", "msgstr[0]", "msgctxt"):
                field = {"msgstr[0]": "msgstr"}.get(keyword, keyword)
                if keyword.startswith("msgstr[") and keyword != "msgstr[0]":
                    field = None  # zh_Hans has one plural form; others would be ignored
                    continue
                entry[field] = ""
            else:
                field = None
                continue
            if field:
                entry[field] += ast.literal_eval(rest)
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def test_every_chinese_entry_is_translated_and_not_fuzzy():
    entries = _po_entries(ZH_PO)
    header = [e for e in entries if e["msgid"] == ""]
    messages = [e for e in entries if e["msgid"] != ""]
    assert len(header) == 1
    assert "Plural-Forms: nplurals=1; plural=0;" in header[0]["msgstr"]
    assert "charset=UTF-8" in header[0]["msgstr"]
    assert "fuzzy" not in header[0]["flags"]
    assert len(messages) > 100
    untranslated = [e["msgid"] for e in messages if not e["msgstr"]]
    assert untranslated == []
    fuzzy = [e["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert fuzzy == []


def test_chinese_translations_keep_every_placeholder():
    wrong = []
    for e in _po_entries(ZH_PO):
        if not e["msgid"]:
            continue
        wanted = set(PLACEHOLDER.findall(e["msgid"])) | set(PLACEHOLDER.findall(e["msgid_plural"] or ""))
        if set(PLACEHOLDER.findall(e["msgstr"] or "")) != wanted:
            wrong.append((e["msgid"], e["msgstr"]))
    assert wrong == []


def test_the_compiled_catalog_is_used():
    with translation.override("zh-hans"):
        assert translation.gettext("Client handover") == "客户交接"
        assert translation.gettext("departing salesperson") == "移交人"
        assert translation.gettext("Phone spot-check") == "电话抽查"
        assert translation.ngettext("%(counter)s item", "%(counter)s items", 3) % {"counter": 3} == "3项"
    with translation.override("en"):
        assert translation.gettext("departing salesperson") == "departing salesperson"


@pytest.mark.django_db
def test_the_login_page_speaks_chinese_by_default(client):
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "登录" in page
    assert "客户交接" in page
    assert "用户名" in page
    assert "Log in" not in page
    # The switcher names each language so that its own readers recognise it.
    assert ">English</option>" in page
    assert ">简体中文</option>" in page


@pytest.mark.django_db
def test_the_login_page_speaks_english_when_chosen(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page
    assert "Log in" in page
    assert "Client handover" in page
    assert "登录" not in page
    assert ">English</option>" in page
    assert ">简体中文</option>" in page


def test_the_language_switcher_changes_the_language(people, login):
    client = login(people.departing)
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("clients:list")})
    assert response.status_code == 302
    page = client.get(reverse("clients:list")).content.decode()
    assert ">Log out<" in page
    assert "退出登录" not in page
    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("clients:list")})
    assert "退出登录" in client.get(reverse("clients:list")).content.decode()


@pytest.mark.django_db
def test_the_language_switcher_works_before_logging_in(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert "Log in" in client.get(reverse("login")).content.decode()


def test_a_logged_in_page_shows_chinese_labels(people, login):
    page = login(people.supervisor).get(reverse("clients:list")).content.decode()
    for label in ("待办", "交接单", "客户", "退出登录", "公司名称", "等级", "负责人", "搜索"):
        assert label in page, label
    for english in (">To-do<", ">Log out<", ">Search<"):
        assert english not in page, english


# A CJK character (ideographs, CJK and full-width punctuation) next to a placeholder with a Latin
# space between them: "苏州科瑞医疗器械有限公司 的接收人已改为 陈静。" reads as a typo in Chinese.
CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
ANY_PLACEHOLDER = r"(?:%\(\w+\)[sdif]|%[sdif]|\{\w*\})"
SPACED = re.compile(rf"{CJK}[ \t\u00a0]+{ANY_PLACEHOLDER}|{ANY_PLACEHOLDER}[ \t\u00a0]+{CJK}")


def test_no_latin_space_between_chinese_text_and_a_placeholder():
    # The project's own catalogue (Django's and the admin's are not ours to edit).
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    spaced = []
    for key, text in catalog._catalog.items():
        if isinstance(text, str) and SPACED.search(text):
            spaced.append((key, text))
    assert spaced == []
    # The scan sees the project's messages (it would find nothing in an empty catalogue).
    assert catalog._catalog["%(client)s now goes to %(receiver)s."] == "%(client)s的接收人已改为%(receiver)s。"


def test_a_sentence_with_names_has_no_latin_spaces():
    with translation.override("zh-hans"):
        text = translation.gettext("%(client)s now goes to %(receiver)s.") % {
            "client": "苏州科瑞医疗器械有限公司",
            "receiver": "陈静",
        }
    assert text == "苏州科瑞医疗器械有限公司的接收人已改为陈静。"
