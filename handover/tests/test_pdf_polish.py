"""The printed confirmation, polished: the QR code beside the header table, never over it; the
seal certificate named in Chinese."""

import shutil

import pytest

from handover import pdf, seal
from handover.models import State
from handover.tests.conftest import poppler
from tests.walk import advance_to


def _boxes(box):
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


def _laid_out_first_page(monkeypatch, render):
    made = []
    real = pdf.HTML
    monkeypatch.setattr(pdf, "HTML", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    render()
    return made[0].render().pages[0]._page_box


def _by_class(page, name):
    return [b for b in _boxes(page) if getattr(b, "element", None) is not None and b.element.get("class") == name]


def test_the_qr_code_sits_beside_the_header_table_not_over_it(handover, monkeypatch):
    h = advance_to(handover, State.COMPLETED)
    page = _laid_out_first_page(monkeypatch, lambda: pdf.render_confirmation(h, verification_code="ABCD-EFGH-JKLM"))
    table = next(b for b in _by_class(page, "facts") if type(b).__name__ == "TableBox")
    qr = [b for b in _boxes(_by_class(page, "qr")[0]) if getattr(b, "element_tag", "") == "img"][0]
    table_right = table.position_x + table.margin_width()
    assert table_right <= qr.position_x, (table_right, qr.position_x)
    # And the QR code stays on the page, within its margins.
    assert qr.position_x + qr.margin_width() <= page.position_x + page.margin_width()


def test_a_stage_list_without_a_qr_code_keeps_the_whole_width(handover, monkeypatch):
    h = advance_to(handover, State.MATERIALS)
    page = _laid_out_first_page(monkeypatch, lambda: pdf.render_stage_list(h, "plan"))
    table = next(b for b in _by_class(page, "facts") if type(b).__name__ == "TableBox")
    head = next(b for b in _by_class(page, "head") if type(b).__name__ == "TableBox")
    assert table.margin_width() == pytest.approx(head.margin_width(), abs=1)


def test_the_seal_certificate_is_named_in_chinese(settings, tmp_path):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    paths = seal.generate(tmp_path, company="苏州科瑞医疗器械有限公司")
    cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(paths.ca.read_bytes())

    def attr(name, oid):
        return name.get_attributes_for_oid(oid)[0].value

    assert attr(cert.subject, NameOID.ORGANIZATION_NAME) == "苏州科瑞医疗器械有限公司"
    assert attr(cert.subject, NameOID.COMMON_NAME) == "苏州科瑞医疗器械有限公司电子合同专用章"
    assert attr(ca.subject, NameOID.COMMON_NAME) == "苏州科瑞医疗器械有限公司电子印章根证书"
    assert cert.issuer == ca.subject
    assert not any(c.isascii() and c.isalpha() for c in attr(cert.subject, NameOID.COMMON_NAME))


@pytest.mark.skipif(not shutil.which("pdfsig"), reason="pdfsig (poppler-utils) is not installed")
def test_a_sealed_file_names_the_chinese_seal(settings, tmp_path):
    import weasyprint

    seal.generate(tmp_path, company="口令公司")
    settings.SEAL_DIR = tmp_path
    settings.SEAL_CERT_PATH = settings.SEAL_KEY_PATH = settings.SEAL_CA_PATH = ""
    settings.SEAL_KEY_PASSPHRASE = ""
    sealed = seal.seal_pdf(weasyprint.HTML(string="<p>确认书</p>").write_pdf())
    assert "口令公司电子合同专用章" in sealed.signer
    check = seal.verify_pdf(sealed.data)
    assert check.ok and "口令公司电子合同专用章" in check.signer
    out_file = tmp_path / "sealed.pdf"
    out_file.write_bytes(sealed.data)
    assert "口令公司电子合同专用章" in poppler("pdfsig", str(out_file))
