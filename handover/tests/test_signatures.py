"""Signatures: who signs what and when, what a signature pins, and that a change unsigns it."""

import base64
import io

import pytest
from django.urls import reverse
from PIL import Image

from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tokens import api_token_create
from demo import walk
from handover import selectors, services, signing
from handover.models import (
    ChecklistItem,
    Event,
    Handover,
    Signature,
    SignatureMethod,
    SignaturePurpose,
    State,
    Visit,
)
from handover.tests.conftest import png_data_url
from tests.walk import advance_to, do_stage_work, sign_missing, signature_of


def typed(user, password=DEFAULT_PASSWORD, **extra) -> services.SignatureInput:
    return services.SignatureInput(method="typed", typed_name=user.full_name, password=password, **extra)


def drawn(image=None, password=DEFAULT_PASSWORD) -> services.SignatureInput:
    return services.SignatureInput(method="drawn", image=image or png_data_url(), password=password)


@pytest.fixture
def at_materials_confirmed(handover, people):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    services.items_confirm_all(handover=h, user=people.receiver)
    return Handover.objects.get(pk=h.pk)


# ---------------------------------------------------------------------------------------
# What a signature is


def test_a_typed_signature_pins_the_content_and_where_it_came_from(at_materials_confirmed, people):
    h = at_materials_confirmed
    sig = services.handover_sign(
        handover=h,
        user=people.receiver,
        purpose=SignaturePurpose.MATERIALS_RECEIPT,
        signature=typed(people.receiver, ip_address="10.1.2.3", user_agent="Mozilla/5.0 测试"),
    )
    assert (sig.method, sig.typed_name, sig.ip_address, sig.user_agent) == (
        SignatureMethod.TYPED,
        people.receiver.full_name,
        "10.1.2.3",
        "Mozilla/5.0 测试",
    )
    assert sig.signed_at and sig.handover_state == State.MATERIALS
    expected = signing.SignedContent(h).sha256(SignaturePurpose.MATERIALS_RECEIPT, people.receiver.pk)
    assert sig.content_sha256 == expected and len(expected) == 64
    assert Event.objects.filter(handover=h, kind="signed", actor=people.receiver).exists()
    assert Handover.objects.get(pk=h.pk).version == h.version + 1


def test_a_wrong_password_stores_nothing(at_materials_confirmed, people):
    h = at_materials_confirmed
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_sign(
            handover=h,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=typed(people.receiver, password="wrong"),
        )
    assert exc.value.field == "password"
    assert not Signature.objects.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT).exists()
    assert Handover.objects.get(pk=h.pk).version == h.version


def test_a_typed_name_must_be_the_persons_own(at_materials_confirmed, people):
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_sign(
            handover=at_materials_confirmed,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=services.SignatureInput(method="typed", typed_name="张三", password=DEFAULT_PASSWORD),
        )
    assert exc.value.field == "typed_name" and people.receiver.full_name in exc.value.message
    assert not Signature.objects.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT).exists()


def test_a_drawn_signature_is_checked_cropped_and_reencoded(at_materials_confirmed, people):
    sig = services.handover_sign(
        handover=at_materials_confirmed,
        user=people.receiver,
        purpose=SignaturePurpose.MATERIALS_RECEIPT,
        signature=drawn(),
    )
    image = Image.open(io.BytesIO(bytes(sig.image)))
    assert image.format == "PNG"
    assert image.size[0] < 300 and image.size[1] < 100  # cropped to the ink


@pytest.mark.parametrize(
    "data_url",
    [
        "",
        "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
        "data:image/png;base64,not base64 at all!",
        "data:image/png;base64," + base64.b64encode(b"GIF89a" + b"\x00" * 100).decode(),
        "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100).decode(),
        "data:image/png;base64," + "A" * 400_000,
        "https://example.com/signature.png",
    ],
)
def test_anything_but_a_real_png_is_refused(at_materials_confirmed, people, data_url):
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_sign(
            handover=at_materials_confirmed,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=drawn(image=data_url or " "),
        )
    assert exc.value.field == "image"
    assert not Signature.objects.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT).exists()


def test_an_empty_pad_is_refused(at_materials_confirmed, people):
    with pytest.raises(services.InvalidInput):
        services.handover_sign(
            handover=at_materials_confirmed,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=drawn(image=png_data_url(ink=False)),
        )


def test_an_oversized_picture_is_refused(at_materials_confirmed, people):
    with pytest.raises(services.InvalidInput):
        services.handover_sign(
            handover=at_materials_confirmed,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=drawn(image=png_data_url(size=(5000, 200))),
        )


# ---------------------------------------------------------------------------------------
# Who signs, when


def test_only_a_receiver_signs_the_receipt_and_only_once_everything_is_confirmed(handover, people):
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    with pytest.raises(services.InvalidInput):
        services.handover_sign(
            handover=h,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=typed(people.receiver),
        )
    services.items_confirm_all(handover=h, user=people.receiver)
    for who in ("departing", "supervisor", "witness", "other_sales"):
        user = getattr(people, who)
        with pytest.raises(services.NotAllowed):
            services.handover_sign(
                handover=h, user=user, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=typed(user)
            )
    services.handover_sign(
        handover=h, user=people.receiver, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=typed(people.receiver)
    )
    with pytest.raises(services.WrongState):  # already signed, and nothing changed since
        services.handover_sign(
            handover=h,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=typed(people.receiver),
        )


def test_the_materials_need_every_receivers_receipt(handover, people, receiver2):
    services.handover_client_set_receiver(
        handover_client=handover.clients.first(), user=people.departing, receiver=receiver2
    )
    h = advance_to(handover, State.MATERIALS)
    services.items_hand_over_all(handover=h, user=people.departing)
    services.items_confirm_all(handover=h, user=people.receiver)
    services.items_confirm_all(handover=h, user=receiver2)
    services.handover_sign(
        handover=h, user=people.receiver, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=typed(people.receiver)
    )
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_transition(handover=h, name="submit_materials", user=people.departing)
    assert receiver2.full_name in exc.value.message and people.receiver.full_name not in exc.value.message
    services.handover_sign(
        handover=h, user=receiver2, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=typed(receiver2)
    )
    assert services.handover_transition(handover=h, name="submit_materials", user=people.departing).state == (
        State.MATERIALS_REVIEW
    )


def test_an_approval_is_signed_in_the_same_action(handover, people):
    h = advance_to(handover, State.PLAN_REVIEW)
    assert "approve_plan_review" in selectors.transitions_for(h, people.supervisor)
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h, name="approve_plan_review", user=people.supervisor)
    with pytest.raises(services.InvalidInput):
        services.handover_transition(
            handover=h, name="approve_plan_review", user=people.supervisor, signature=typed(people.supervisor, "bad")
        )
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_REVIEW and not Signature.objects.exists()
    h = services.handover_transition(
        handover=h, name="approve_plan_review", user=people.supervisor, signature=drawn(), comment="同意"
    )
    assert h.state == State.PLAN_APPROVAL
    sig = Signature.objects.get()
    assert (sig.signer, sig.purpose, sig.handover_state) == (
        people.supervisor,
        SignaturePurpose.PLAN_REVIEW,
        State.PLAN_REVIEW,
    )
    event = Event.objects.get(handover=h, data__name="approve_plan_review")
    assert event.data["signature"] == sig.pk and event.comment == "同意"


def test_the_final_approval_needs_the_three_parties_and_the_managers_signature_is_last(handover, people):
    h = advance_to(handover, State.REPORT_APPROVAL)
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_transition(
            handover=h, name="approve_report", user=people.manager, signature=typed(people.manager)
        )
    for person in (people.departing, people.receiver, people.witness):
        assert person.full_name in exc.value.message
    assert not Signature.objects.filter(purpose=SignaturePurpose.REPORT_APPROVAL).exists()
    for person in (people.departing, people.receiver, people.witness):
        services.handover_sign(handover=h, user=person, purpose=SignaturePurpose.CHECKLIST, signature=typed(person))
    with pytest.raises(services.NotAllowed):
        services.handover_sign(
            handover=h, user=people.supervisor, purpose=SignaturePurpose.CHECKLIST, signature=typed(people.supervisor)
        )
    h = services.handover_transition(
        handover=h, name="approve_report", user=people.manager, signature=typed(people.manager)
    )
    assert h.state == State.COMPLETED
    last = Signature.objects.order_by("signed_at", "pk").last()
    assert (last.signer, last.purpose) == (people.manager, SignaturePurpose.REPORT_APPROVAL)


# ---------------------------------------------------------------------------------------
# A change after signing unsigns


def test_a_visit_recorded_after_the_receiver_signed_needs_a_new_signature(handover, people, login, password):
    h = advance_to(handover, State.VISITS)
    do_stage_work(h)  # visits recorded, confirmed, and signed by the receiver
    sig = Signature.objects.get(purpose=SignaturePurpose.VISITS)
    hc = h.clients.first()
    services.visit_record(
        handover_client=hc,
        user=people.departing,
        visited_on=hc.visits.first().visited_on,
        mode="in_person",
        contact_met="王采购",
        outcome="补充拜访，确认交接",
    )
    checker = signing.SignatureChecker(Handover.objects.get(pk=h.pk))
    assert not checker.is_valid(sig) and checker.missing(SignaturePurpose.VISITS) == [people.receiver.pk]
    with pytest.raises(services.InvalidInput) as exc:
        services.handover_transition(handover=h, name="submit_visits", user=people.departing)
    assert people.receiver.full_name in exc.value.message

    # Shown in red on the handover page, to everyone.
    content = login(people.departing).get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert f'id="signature-{sig.pk}" data-valid="false"' in content
    assert 'class="text-danger fw-semibold signature-invalid"' in content
    assert 'data-status="invalid"' in content

    # The receiver confirms the new visit and signs again: the old signature stays on record, superseded.
    visit = Visit.objects.filter(handover_client=hc).latest("pk")
    services.visit_confirm(visit=visit, user=people.receiver)
    services.handover_sign(
        handover=h, user=people.receiver, purpose=SignaturePurpose.VISITS, signature=typed(people.receiver)
    )
    sig.refresh_from_db()
    assert sig.superseded_at is not None
    assert services.handover_transition(handover=h, name="submit_visits", user=people.departing).state == (
        State.VISITS_REVIEW
    )


def test_a_report_changed_after_the_checklist_was_signed_unsigns_it(handover, people):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    h = services.handover_transition(handover=h, name="return_report", user=people.manager, comment="补充风险")
    services.report_update(handover=h, user=people.departing, summary="改过的总结", open_risks="新增风险")
    services.handover_transition(handover=h, name="submit_report", user=people.departing)
    h = services.handover_transition(
        handover=h, name="approve_report_review", user=people.supervisor, signature=signature_of(people.supervisor)
    )
    checker = signing.SignatureChecker(h)
    assert sorted(checker.missing(SignaturePurpose.CHECKLIST)) == sorted(
        [people.departing.pk, people.receiver.pk, people.witness.pk]
    )
    assert "approve_report" not in selectors.transitions_for(h, people.manager)


def test_an_item_edited_behind_the_procedures_back_unsigns_the_receipt(at_materials_confirmed, people):
    h = at_materials_confirmed
    sig = services.handover_sign(
        handover=h, user=people.receiver, purpose=SignaturePurpose.MATERIALS_RECEIPT, signature=typed(people.receiver)
    )
    item = ChecklistItem.objects.filter(handover=h).first()
    ChecklistItem.objects.filter(pk=item.pk).update(title=item.title + "（改）")
    assert not signing.SignatureChecker(Handover.objects.get(pk=h.pk)).is_valid(sig)
    ChecklistItem.objects.filter(pk=item.pk).update(title=item.title)
    assert signing.SignatureChecker(Handover.objects.get(pk=h.pk)).is_valid(sig)


def test_a_client_renamed_after_completion_does_not_unsign(handover, people, book):
    h = advance_to(handover, State.COMPLETED)
    book[0].name = "改名后的公司"
    book[0].save()
    checker = signing.SignatureChecker(Handover.objects.get(pk=h.pk))
    assert all(checker.is_valid(sig) for sig in checker.signatures)


# ---------------------------------------------------------------------------------------
# The pages and the API


def _sign_post(user, **extra) -> dict:
    return {"method": "typed", "typed_name": user.full_name, "password": DEFAULT_PASSWORD, **extra}


def test_the_receiver_signs_on_the_handover_page(at_materials_confirmed, people, login):
    h = at_materials_confirmed
    browser = login(people.receiver)
    page = browser.get(reverse("handover:detail", args=[h.pk])).content.decode()
    sign_url = reverse("handover:sign", args=[h.pk, "materials_receipt"])
    assert f'action="{sign_url}"' in page and "signature_pad.umd.min.js" in page
    response = browser.post(
        sign_url,
        {**_sign_post(people.receiver, method="drawn", image=png_data_url()), "version": h.version},
        HTTP_USER_AGENT="TestBrowser/1.0",
        REMOTE_ADDR="192.0.2.7",
    )
    assert response.status_code == 302
    sig = Signature.objects.get(purpose=SignaturePurpose.MATERIALS_RECEIPT)
    assert (sig.method, sig.ip_address, sig.user_agent) == ("drawn", "192.0.2.7", "TestBrowser/1.0")
    image = browser.get(reverse("handover:signature_image", args=[h.pk, sig.pk]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content == bytes(sig.image)
    # The departing person sees who signed; an outsider gets nothing.
    assert login(people.other_sales).get(reverse("handover:signature_image", args=[h.pk, sig.pk])).status_code == 404


def test_the_supervisor_signs_and_approves_in_one_form(handover, people, login):
    h = advance_to(handover, State.PLAN_REVIEW)
    browser = login(people.supervisor)
    page = browser.get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert 'class="step step-sign" data-step="approve_plan_review"' in page
    url = reverse("handover:transition", args=[h.pk, "approve_plan_review"])
    browser.post(url, {**_sign_post(people.supervisor, password="nope"), "version": h.version})
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_REVIEW
    browser.post(url, {**_sign_post(people.supervisor), "version": h.version, "comment": "计划可行"})
    assert Handover.objects.get(pk=h.pk).state == State.PLAN_APPROVAL
    assert Signature.objects.get().signer == people.supervisor


def test_the_api_signs_and_lists_signatures(handover, people, password):
    from rest_framework.test import APIClient

    def api(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[0]}")
        return client

    h = advance_to(handover, State.REPORT_REVIEW)
    url = f"/api/handovers/{h.pk}/"
    body = {"signature": {"method": "typed", "typed_name": people.supervisor.full_name, "password": "wrong"}}
    response = api(people.supervisor).post(url + "transitions/approve_report_review/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == "password"
    body["signature"]["password"] = password
    response = api(people.supervisor).post(url + "transitions/approve_report_review/", body, format="json")
    assert response.status_code == 200 and response.json()["state"] == State.REPORT_APPROVAL

    sign = {"purpose": "checklist", "method": "drawn", "image": png_data_url(), "password": password}
    response = api(people.witness).post(url + "signatures/", sign, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["valid"] is True and response.json()["has_image"] is True
    assert api(people.other_sales).post(url + "signatures/", sign, format="json").status_code == 404
    response = api(people.supervisor).post(url + "signatures/", {**sign, "password": password}, format="json")
    assert response.status_code == 403
    listed = api(people.departing).get(url + "signatures/").json()
    assert len(listed) == 8 and all(s["valid"] for s in listed)
    assert {(s["purpose"], s["signer"]["name"]) for s in listed} >= {
        ("report_review", people.supervisor.full_name),
        ("checklist", people.witness.full_name),
    }


def test_the_walk_signs_every_stage(handover, people):
    h = advance_to(handover, State.COMPLETED)
    purposes = set(Signature.objects.filter(handover=h).values_list("purpose", flat=True))
    assert purposes == set(SignaturePurpose.values)
    checker = signing.SignatureChecker(h)
    assert all(checker.is_valid(sig) for sig in checker.signatures)
    # With each person's own password, checked as on the page: the services have no way round it.
    assert people.manager.check_password(signature_of(people.manager).password)


def test_no_signature_skips_the_password_check(at_materials_confirmed, people):
    # The walk (demo/walk.py) once signed through a flag that skipped the password; the services
    # have no such way round any more, and the walk is refused a wrong password like anyone.
    with pytest.raises(TypeError):
        services.SignatureInput(method="typed", typed_name=people.receiver.full_name, password_confirmed=True)
    with pytest.raises(services.InvalidInput) as refused:
        walk.sign_missing(at_materials_confirmed, SignaturePurpose.MATERIALS_RECEIPT, password="not-theirs")
    assert refused.value.field == "password"
    assert not Signature.objects.filter(
        handover=at_materials_confirmed, purpose=SignaturePurpose.MATERIALS_RECEIPT
    ).exists()


def test_the_walk_is_not_locked_out_by_the_signing_throttle(handover, settings):
    # Each signature is a password checked through the login throttle; right ones do not add up.
    settings.LOGIN_FAILURE_LIMIT = 1
    h = advance_to(handover, State.COMPLETED)
    assert Signature.objects.filter(handover=h).count() > settings.LOGIN_FAILURE_LIMIT


def test_guessing_the_password_by_signing_is_throttled_like_the_login(at_materials_confirmed, people, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    h = at_materials_confirmed
    for _ in range(3):
        with pytest.raises(services.InvalidInput):
            services.handover_sign(
                handover=h,
                user=people.receiver,
                purpose=SignaturePurpose.MATERIALS_RECEIPT,
                signature=typed(people.receiver, password="guess", ip_address="203.0.113.9"),
            )
    # Locked now: even the right password is refused from that address for a while.
    with pytest.raises(services.InvalidInput):
        services.handover_sign(
            handover=h,
            user=people.receiver,
            purpose=SignaturePurpose.MATERIALS_RECEIPT,
            signature=typed(people.receiver, ip_address="203.0.113.9"),
        )
    assert not Signature.objects.filter(purpose=SignaturePurpose.MATERIALS_RECEIPT).exists()
