"""The test certificate authority and the two server certificates of the emulator and of Azurite (trustme)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EMULATOR_HOSTS = (
    "127.0.0.1",
    "localhost",
    "management.azure.com",
    "*.api.azureml.ms",
    "eastus.api.azureml.ms",
    "login.microsoftonline.com",
    "*.studio-test-cloud.example",
    "management.studio-test-cloud.example",
    "login.studio-test-cloud.example",
    "eastus.api.studio-test-cloud.example",
)
"""Every name the emulator answers for (wildcards cover one label only, so the exact names are listed too)."""

AZURITE_HOSTS = ("devstoreaccount1.blob.core.windows.net", "*.blob.core.windows.net", "127.0.0.1")


@dataclass(frozen=True)
class ServerCert:
    """A certificate chain and its private key, as PEM files."""

    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class TestCertificates:
    """The CA's PEM (what ``REQUESTS_CA_BUNDLE`` points at) and the servers' certificates it signed."""

    __test__ = False  # not a pytest test class

    ca_path: Path
    emulator: ServerCert
    azurite: ServerCert


def make_certificates(folder: Path) -> TestCertificates:
    """Create a fresh CA and the emulator's and Azurite's certificates under ``folder``."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Studio test CA")
    ca_path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return TestCertificates(
        ca_path=ca_path,
        emulator=_issue(ca, folder, "emulator", EMULATOR_HOSTS),
        azurite=_issue(ca, folder, "azurite", AZURITE_HOSTS),
    )


def _issue(ca: object, folder: Path, name: str, hosts: tuple[str, ...]) -> ServerCert:
    cert = ca.issue_cert(*hosts)  # type: ignore[attr-defined]
    cert_path = folder / f"{name}.pem"
    key_path = folder / f"{name}.key"
    cert.private_key_pem.write_to_path(str(key_path))
    # The chain (leaf first): servers that send the intermediate-free chain are what clients expect.
    with open(cert_path, "wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return ServerCert(cert_path, key_path)
