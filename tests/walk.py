"""The walk (demo/walk.py) as the tests use it: every person the tests make has DEFAULT_PASSWORD.

The walk signs with each person's real password, checked by the services as on the page; here
it is bound to the password of the tests' factories, so a test writes advance_to(h, state).
"""

from accounts.tests.factories import DEFAULT_PASSWORD
from demo import walk
from handover.models import Handover
from handover.services import SignatureInput


def signature_of(user) -> SignatureInput:
    return walk.signature_of(user, DEFAULT_PASSWORD)


def sign_missing(h: Handover, purpose: str) -> None:
    walk.sign_missing(h, purpose, password=DEFAULT_PASSWORD)


def do_stage_work(h: Handover) -> None:
    walk.do_stage_work(h, password=DEFAULT_PASSWORD)


def advance_to(h: Handover, target: str) -> Handover:
    return walk.advance_to(h, target, password=DEFAULT_PASSWORD)
