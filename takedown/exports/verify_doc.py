"""VERIFY.md: how anyone checks an export with standard tools, written into every export."""

from __future__ import annotations

from takedown.exports import bundle

AUDIT_SNIPPET = """\
python3 - <<'EOF'
import hashlib, json
log = json.load(open("audit-log.json"))
keys = ("at", "actor_kind", "actor_id", "action", "case_id", "object_type", "object_id", "detail")
previous = None
for row in log["events"]:
    body = {"prev": row["prev_hash"], **{k: row[k] for k in keys}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert hashlib.sha256(text.encode()).hexdigest() == row["row_hash"], row["id"]
    if previous and row["id"] == previous["id"] + 1:
        assert row["prev_hash"] == previous["row_hash"], row["id"]
    previous = row
print(len(log["events"]), "audit rows recompute; chain head", log["chain_head"])
EOF"""


def verify_md_render(*, reference: str, fingerprint: str, files: list[str], annex: bool, external_tsa: bool) -> bytes:
    listed = "\n".join(f"- `{name}`" for name in sorted({*files, bundle.SIGNING_PUB, bundle.TSA_CA,
                                                          bundle.VERIFY_MD}))
    tsa_note = (
        "a public time-stamping authority; `tsa-ca.pem` holds its CA certificates, which you can also obtain from "
        "that authority directly"
        if external_tsa
        else "the operator's own (local) time-stamping authority, for an operator without network access; "
        "`tsa-ca.pem` is its CA certificate"
    )
    annex_text = (
        "\n## The sealed identity annex\n\n"
        "`identity-annex.p7m` holds what the person chose to give for the court, encrypted (CMS EnvelopedData, "
        "AES-256) to the advocate's certificate. Only the advocate's private key opens it; file it under seal:\n\n"
        "```sh\nopenssl cms -decrypt -inform DER -in identity-annex.p7m -inkey advocate.key "
        "-out identity-annex.json\n```\n"
        if annex
        else ""
    )
    text = f"""# Verifying the case file {reference}

This ZIP is a court case file. Every file in it is listed with its SHA-256 in `MANIFEST.sha256`; the
manifest is signed with the operator's Ed25519 key (`MANIFEST.sha256.sig`, raw 64 bytes) and time-stamped
under RFC 3161 (`MANIFEST.sha256.tsr`) by {tsa_note}. Checking needs no contact with the operator: only
`unzip`, `sha256sum` (GNU coreutils) and OpenSSL 3.0 or later.

Files listed in the manifest:

{listed}

Not listed, because they are about the manifest: `MANIFEST.sha256`, `MANIFEST.sha256.sig`, `MANIFEST.sha256.tsr`.

## The commands

Unpack into an empty folder and run each command there with bash; each must succeed (exit status 0;
the `diff` of step 1 prints nothing).

```sh
mkdir case && cd case && unzip -q ../case.zip

# 1. No file was added or removed: the ZIP holds exactly the listed files plus the three manifest files.
(cut -c67- MANIFEST.sha256; printf '%s\\n' MANIFEST.sha256 MANIFEST.sha256.sig MANIFEST.sha256.tsr) \\
  | sort | diff - <(unzip -Z1 ../case.zip | sort)

# 2. No file was changed.
sha256sum -c --strict MANIFEST.sha256

# 3. The manifest was signed by the holder of the signing key.
openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig

# 4. The manifest existed at the time the authority stamped, and the stamp chains to tsa-ca.pem.
openssl ts -verify -data MANIFEST.sha256 -in MANIFEST.sha256.tsr -CAfile tsa-ca.pem
openssl ts -reply -in MANIFEST.sha256.tsr -text | grep -E 'Time stamp|Serial|Policy'
```

## Who made it

Steps 3 and 4 prove the files are intact and were signed by whoever holds the key in `signing-key.pub.pem`.
To prove that key is the operator's, compare its fingerprint with the one the operator publishes:

```sh
openssl pkey -pubin -in signing-key.pub.pem -outform DER | sha256sum
```

This export's signing key fingerprint (SHA-256 of the DER SubjectPublicKeyInfo):

    {fingerprint}

With a copy of the operator's key obtained independently, the platform's own checker does every step at once
and pins the key: `python manage.py verify_export case.zip --pubkey operator-key.pub.pem` (exit 0 when every
check passes, 1 naming the first that fails).

## The audit-log excerpt

`audit-log.json` holds every audit event about this case with its hash-chain values. Each row's `row_hash` is
SHA-256 over the row's fields and the hash of the row before it in the operator's whole log, so a row cannot be
changed without breaking the chain; `chain_head` is the last row of the whole log when this file was made.
This recomputes every row (Python 3, standard library only):

```sh
{AUDIT_SNIPPET}
```
{annex_text}
## What the files say

`case.pdf` is the summary for the court; `case.json` holds the same data for machines. The person is named
only by pseudonym. Detector and provenance findings are stated with their limits; perceptual-hash distances
show likeness, not identity.
"""
    return text.encode("utf-8")
