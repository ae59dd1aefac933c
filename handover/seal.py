"""The company's digital seal on archived confirmations: a PAdES signature made with pyHanko.

The certificate and key come from settings (SEAL_CERT_PATH, SEAL_KEY_PATH, SEAL_CA_PATH,
SEAL_KEY_PASSPHRASE), or from SEAL_DIR where `manage.py seal_setup` writes a self-signed
company CA and a seal certificate issued by it. A company with a certificate from a real CA
gives its files by path instead.

Anyone can check a sealed file: Poppler's `pdfsig FILE`, Adobe Reader, or pyHanko; verify_pdf
below is what the verification page runs, with the company CA as the trust root.

pyHanko, asn1crypto and cryptography are imported inside the functions that use them: they are
heavy and needed only when a confirmation is sealed or checked, never by the pages' start-up.
"""

import dataclasses
import datetime
import io
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

SEAL_FIELD = "CompanySeal"
# The seal certificate's common name follows the company's name (CN=示例销售有限公司电子合同专用章).
SEAL_NAME = "电子合同专用章"
CA_FILE, CERT_FILE, KEY_FILE = "ca-cert.pem", "seal-cert.pem", "seal-key.pem"


class SealNotConfigured(RuntimeError):
    """No seal certificate or key where the settings say; run `manage.py seal_setup`."""


@dataclasses.dataclass(frozen=True)
class SealPaths:
    cert: Path
    key: Path
    ca: Path | None
    passphrase: bytes | None


def seal_paths() -> SealPaths:
    base = Path(settings.SEAL_DIR)
    ca = Path(settings.SEAL_CA_PATH) if settings.SEAL_CA_PATH else base / CA_FILE
    return SealPaths(
        cert=Path(settings.SEAL_CERT_PATH) if settings.SEAL_CERT_PATH else base / CERT_FILE,
        key=Path(settings.SEAL_KEY_PATH) if settings.SEAL_KEY_PATH else base / KEY_FILE,
        ca=ca if ca.is_file() else None,
        passphrase=settings.SEAL_KEY_PASSPHRASE.encode() if settings.SEAL_KEY_PASSPHRASE else None,
    )


@dataclasses.dataclass(frozen=True)
class Sealed:
    data: bytes
    signer: str


def require_configured() -> SealPaths:
    """The seal's files, or SealNotConfigured: checked before the seconds of rendering a PDF to seal."""
    paths = seal_paths()
    if not paths.cert.is_file() or not paths.key.is_file():
        raise SealNotConfigured(
            f"No seal certificate at {paths.cert} or key at {paths.key}: run `manage.py seal_setup`, "
            "or set SEAL_CERT_PATH and SEAL_KEY_PATH."
        )
    return paths


def _signer():
    from pyhanko.sign import signers

    paths = require_configured()
    signer = signers.SimpleSigner.load(
        str(paths.key),
        str(paths.cert),
        ca_chain_files=(str(paths.ca),) if paths.ca else None,
        key_passphrase=paths.passphrase,
    )
    if signer is None:
        raise SealNotConfigured(f"The seal key {paths.key} or certificate {paths.cert} could not be loaded.")
    return signer


def seal_pdf(pdf: bytes, *, reason: str = "", location: str = "") -> Sealed:
    """The PDF with the company seal (PAdES B-B, SHA-256) added as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = _signer()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason or "Client handover confirmation, archived",
        location=location or settings.COMPANY_NAME,
        name=settings.COMPANY_NAME,
    )
    out = signers.sign_pdf(writer, meta, signer=signer)
    return Sealed(data=out.getvalue(), signer=signer.signing_cert.subject.human_friendly)


@dataclasses.dataclass(frozen=True)
class SealCheck:
    present: bool
    intact: bool = False
    trusted: bool = False
    # The seal covers the whole file. We seal last and never add to an archive, so anything
    # appended after the seal (an annotation, new document info, another signature) is a change,
    # even where pyHanko's modification policy would call it harmless.
    untouched: bool = False
    signer: str = ""
    signed_at: datetime.datetime | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.present and self.intact and self.trusted and self.untouched

    @property
    def changed_after_sealing(self) -> bool:
        """A genuine seal on a file that was added to afterwards."""
        return self.present and self.intact and self.trusted and not self.untouched


def verify_pdf(pdf: bytes) -> SealCheck:
    """Is the company seal there, are the signed bytes untouched, and does it chain to our CA?"""
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - anything unreadable is simply not a sealed PDF
        return SealCheck(present=False, problem=f"{type(exc).__name__}: {exc}")
    if not signatures:
        return SealCheck(present=False, problem="no signature")
    roots = []
    paths = seal_paths()
    for path in [p for p in (paths.ca, paths.cert) if p and p.is_file()]:
        data = path.read_bytes()
        if pem.detect(data):
            for _type, _headers, der in pem.unarmor(data, multiple=True):
                roots.append(x509.Certificate.load(der))
        else:
            roots.append(x509.Certificate.load(data))
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    # Our seal by its field: a signature someone appended later must not stand in for it.
    company_seal = next((s for s in signatures if s.field_name == SEAL_FIELD), signatures[-1])
    try:
        status = validate_pdf_signature(company_seal, context)
    except Exception as exc:  # noqa: BLE001 - a mangled signature is a failed check, not a crash
        return SealCheck(present=True, problem=f"{type(exc).__name__}: {exc}")
    signed_at = getattr(status, "signer_reported_dt", None)
    untouched = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return SealCheck(
        present=True,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        untouched=untouched,
        signer=status.signing_cert.subject.human_friendly if status.signing_cert else "",
        signed_at=timezone.localtime(signed_at) if signed_at else None,
        problem="" if status.bottom_line and untouched else status.summary(),
    )


# ---------------------------------------------------------------------------------------
# Making the company CA and seal certificate (manage.py seal_setup)


def generate(directory: Path, *, company: str, passphrase: bytes | None = None, years: int = 10) -> SealPaths:
    """A self-signed company CA and a seal certificate it issues, written as PEM into directory."""
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=365 * years)

    def name(common: str) -> cx509.Name:
        return cx509.Name(
            [
                cx509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                cx509.NameAttribute(NameOID.ORGANIZATION_NAME, company),
                cx509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    # The subjects in Chinese, as the company's seals are named: 《公司名》电子合同专用章, issued by its root.
    ca_name = name(f"{company}电子印章根证书")
    ca_cert = (
        cx509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(cx509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            cx509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(cx509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name(f"{company}{SEAL_NAME}"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            cx509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CODE_SIGNING]),
            critical=False,
        )
        .add_extension(cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            cx509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    paths = SealPaths(cert=directory / CERT_FILE, key=directory / KEY_FILE, ca=directory / CA_FILE, passphrase=None)
    _write(paths.ca, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(paths.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(
        paths.key,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption),
        0o600,
    )
    # The CA's own key is not kept: nothing else is ever issued with it.
    return paths


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
