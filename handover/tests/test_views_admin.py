"""The admin: the company's plan template is editable there; handovers are shown, never edited."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from accounts.tests.factories import UserFactory
from handover.models import ChecklistTemplateItem, DocumentTemplate


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, department=None)


def test_every_handover_model_is_registered():
    for model in apps.get_app_config("handover").get_models():
        assert admin.site.is_registered(model), model.__name__


def test_the_plan_template_items_are_editable(superuser, login):
    browser = login(superuser)
    response = browser.post(
        reverse("admin:handover_checklisttemplateitem_add"),
        {
            "kind": "property",
            "title": "工牌",
            "description": "",
            "storage_location": "行政部",
            "order": 3,
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert ChecklistTemplateItem.objects.get().title == "工牌"


def test_the_document_templates_are_editable(superuser, login):
    browser = login(superuser)
    response = browser.post(reverse("admin:handover_documenttemplate_add"), {"kind": "report", "body": "一、交接概况"})
    assert response.status_code == 302
    assert DocumentTemplate.objects.get().body == "一、交接概况"


def test_handovers_are_shown_but_not_edited_in_the_admin(superuser, handover, login):
    browser = login(superuser)
    assert browser.get(reverse("admin:handover_handover_changelist")).status_code == 200
    page = browser.get(reverse("admin:handover_handover_change", args=[handover.pk]))
    assert page.status_code == 200 and handover.number in page.content.decode()
    assert browser.get(reverse("admin:handover_handover_add")).status_code == 403
    assert (
        browser.post(reverse("admin:handover_handover_delete", args=[handover.pk]), {"post": "yes"}).status_code == 403
    )
    for name in ["handoverclient", "checklistitem", "event", "visit", "phonecheck", "report", "stagedeadline"]:
        assert browser.get(reverse(f"admin:handover_{name}_changelist")).status_code == 200, name
