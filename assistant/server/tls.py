"""HTTPS for the chair's browser microphone: the user's certificate, or a self-signed one made once."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError

CERT_DAYS = 825  # the longest validity browsers accept


def ensure_certificate(settings: Settings) -> tuple[Path, Path]:
    """Return (certificate, key) paths: the configured ones, or a self-signed pair in the data folder."""
    if settings.server.tls_cert or settings.server.tls_key:
        cert, key = Path(settings.server.tls_cert), Path(settings.server.tls_key)
        for name, path in (("server.tls_cert", cert), ("server.tls_key", key)):
            if not path.is_file():
                raise ConfigError(f"{name} = {str(path)!r} is not a file; give both PEM files, or leave both"
                                  " empty to use a self-signed certificate")
        return cert, key
    folder = settings.storage.data_dir / "tls"
    cert, key = folder / "self-signed.crt", folder / "self-signed.key"
    if not (cert.is_file() and key.is_file()):
        _self_signed(cert, key)
    return cert, key


def _self_signed(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    host = socket.gethostname()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    alt = x509.SubjectAlternativeName([x509.DNSName(host), x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=CERT_DAYS)).add_extension(alt, critical=False)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
