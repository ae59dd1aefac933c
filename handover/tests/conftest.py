import contextlib
import datetime
import shutil

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover import services
from handover.models import ChecklistTemplateItem, ItemKind


@pytest.fixture(autouse=True)
def _no_login_throttle_left_over():
    # Wrong passwords given when signing count toward the login throttle (in the cache): one
    # test's guesses must not lock another test's people out.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def book(people):
    """The departing person's book: 2 A clients and 8 others, with contracts, receivables and deals."""
    clients = []
    for i in range(10):
        c = ClientFactory(owner=people.departing, grade="A" if i < 2 else ("B" if i < 6 else "C"))
        ContactFactory(client=c)
        contract = ContractFactory(client=c)
        ReceivableFactory(contract=contract)
        OpportunityFactory(client=c)
        clients.append(c)
    ChecklistTemplateItem.objects.create(kind=ItemKind.PROPERTY, title="笔记本电脑", storage_location="IT 部")
    ChecklistTemplateItem.objects.create(kind=ItemKind.ACCOUNT, title="CRM 系统账号")
    return clients


@pytest.fixture
def receiver2(people):
    east = people.east
    return UserFactory(
        username="receiver2", full_name="陈接收", department=east, supervisor=people.supervisor, roles=[Role.SALES]
    )


@pytest.fixture
def start(people, book):
    def _start(**overrides):
        today = timezone.localdate()
        kwargs = {
            "started_by": people.hr,
            "departing": people.departing,
            "receiver": people.receiver,
            "witness": people.witness,
            "manager": people.manager,
            "reason": "resignation",
            "notice_date": today,
            "last_working_day": today + datetime.timedelta(days=30),
        }
        kwargs.update(overrides)
        return services.handover_start(**kwargs)

    return _start


@pytest.fixture
def handover(start):
    return start()


@contextlib.contextmanager
def celery_broker(url: str, *, eager: bool = False):
    """Point the Celery app at another broker for one test, and back."""
    from config.celery import app

    def reset():
        # The app caches its connection and producer pools; a new URL needs new pools. (Closing
        # them would break kombu's shared pool for the old URL, which the app goes back to.)
        app._pool = None
        app.amqp._producer_pool = None

    keys = ("broker_url", "broker_write_url", "broker_read_url", "task_always_eager")
    saved = {k: app.conf[k] for k in keys}
    app.conf.update(broker_url=url, broker_write_url=url, broker_read_url=url, task_always_eager=eager)
    reset()
    try:
        yield app
    finally:
        app.conf.update(saved)
        reset()


@pytest.fixture(scope="session")
def seal_dir(tmp_path_factory):
    """A company CA and seal certificate, made once for the test run (as `manage.py seal_setup` does)."""
    from handover import seal

    directory = tmp_path_factory.mktemp("seal")
    seal.generate(directory, company="测试销售有限公司")
    return directory


@pytest.fixture
def sealed(settings, seal_dir, tmp_path):
    """The seal in place and archives written to a temporary MEDIA_ROOT."""
    settings.SEAL_DIR = seal_dir
    settings.SEAL_CERT_PATH = settings.SEAL_KEY_PATH = settings.SEAL_CA_PATH = settings.SEAL_KEY_PASSPHRASE = ""
    settings.MEDIA_ROOT = tmp_path / "media"
    return seal_dir


def png_data_url(*, ink: bool = True, size=(300, 100)) -> str:
    """A drawn signature as the signature pad posts it: a PNG data URL."""
    import base64
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if ink:
        ImageDraw.Draw(image).line([(20, 70), (80, 20), (140, 75), (260, 30)], fill=(11, 42, 111, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def poppler(*command: str, data: bytes | None = None) -> str:
    """The output of a Poppler tool (pdftotext, pdffonts, pdfsig from poppler-utils)."""
    import subprocess

    done = subprocess.run(  # noqa: S603 - a fixed Poppler tool with our own arguments
        [shutil.which(command[0]) or command[0], *command[1:]], input=data, capture_output=True, check=False
    )
    return done.stdout.decode()
