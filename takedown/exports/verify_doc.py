"""VERIFY.md: how anyone checks an export with standard tools, written into every export.

Its command block is one POSIX sh script (GNU or BSD userland, OpenSSL 3, Python 3 for the audit excerpt) that
takes the ZIP's path, whatever its name, and the fingerprint the operator publishes. tests/exports runs it
literally under dash.
"""

from __future__ import annotations

from takedown.exports import bundle

WELL_KNOWN_PATH = "/.well-known/takedown-export-keys"
KEYS_PAGE_PATH = "/court-exports/keys/"

AUDIT_SNIPPET = """\
python3 - <<'PY' || fail "the audit-log excerpt does not check out"
import hashlib, json, sys
log = json.load(open("audit-log.json"))
case_id = json.load(open("case.json"))["case"]["id"]
keys = ("at", "actor_kind", "actor_id", "action", "case_id", "object_type", "object_id", "detail")
chain, head = "case:" + case_id, log["chain_head"]
assert head["chain"] == chain, "the chain head names another case"
prev, seq, old = "0" * 64, 1, None
for row in log["events"]:
    body = {"prev": row["prev_hash"], **{k: row[k] for k in keys}}
    if row["seq"]:
        body.update(chain=row["chain"], seq=row["seq"])
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert hashlib.sha256(text.encode()).hexdigest() == row["row_hash"], ("changed row", row["id"])
    assert row["case_id"] == case_id, ("row of another case", row["id"])
    if not row["seq"]:  # written before chains were kept per case: adjacent rows of the whole log must link
        if old and row["id"] == old["id"] + 1:
            assert row["prev_hash"] == old["row_hash"], ("broken link", row["id"])
        old = row
        continue
    assert row["chain"] == chain and row["seq"] == seq, ("a row is missing before position", seq)
    assert row["prev_hash"] == prev, ("broken link at position", seq)
    prev, seq = row["row_hash"], seq + 1
assert (seq - 1, prev) == (head["seq"], head["row_hash"]), ("rows missing at the end of the chain", seq - 1)
print(len(log["events"]), "audit rows recompute; the case's chain is complete, positions 1 to", head["seq"])
PY"""


def check_script() -> str:
    """The POSIX sh script VERIFY.md shows (and the tests run): `sh check.sh EXPORT.zip FINGERPRINT`."""
    return f"""\
#!/bin/sh
# Usage: sh check.sh PATH-TO-THE-EXPORT.zip PUBLISHED-FINGERPRINT
set -eu
fail() {{ echo "FAILED: $*" >&2; exit 1; }}
[ $# -eq 2 ] || fail "give the export's path and the fingerprint the operator publishes"
zip=$1
case $zip in /*) ;; *) zip=$PWD/$zip ;; esac
[ -f "$zip" ] || fail "no file $zip"
published=$(printf '%s' "$2" | tr -d ' :' | tr 'ABCDEF' 'abcdef')
work=$(mktemp -d)
cd "$work"
mkdir files && cd files
unzip -q -n "$zip" || fail "not a ZIP file"

# 1. The manifest is in sha256sum format and names only plain files.
LC_ALL=C grep -Evq '^[0-9a-f]{{64}}  [A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$' MANIFEST.sha256 \\
  && fail "MANIFEST.sha256 has a line that is not '<sha256>  <name>'"

# 2. No file was added or removed: exactly the listed files plus the manifest's own files (a second time-stamp,
#    MANIFEST.sha256.tsr2, when the manifest lists a second authority's tsa2-ca.pem).
{{ cut -c67- MANIFEST.sha256; printf '%s\\n' MANIFEST.sha256 MANIFEST.sha256.sig MANIFEST.sha256.tsr
   if grep -q '  tsa2-ca.pem$' MANIFEST.sha256; then echo MANIFEST.sha256.tsr2; fi; }} | LC_ALL=C sort > ../listed
find . ! -type d | sed 's|^\\./||' | LC_ALL=C sort > ../present
cmp -s ../listed ../present || {{ diff ../listed ../present >&2 || true; fail "files were added or removed"; }}

# 3. No file was changed: each file's SHA-256 is the one listed.
while IFS= read -r line; do
  name=${{line#*  }}
  [ "$(openssl dgst -sha256 -r "$name" | cut -c1-64)" = "${{line%%  *}}" ] || fail "$name was changed"
done < MANIFEST.sha256

# 4. The manifest was signed with the key in signing-key.pub.pem ...
openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin -in MANIFEST.sha256 \\
  -sigfile MANIFEST.sha256.sig > /dev/null || fail "the signature does not verify"
# ... and that key is the one the operator publishes (not one that came with the file).
fingerprint=$(openssl pkey -pubin -in signing-key.pub.pem -outform DER | openssl dgst -sha256 -r | cut -c1-64)
[ "$fingerprint" = "$published" ] || fail "signed with key $fingerprint, not the published $published"

# 5. Each time-stamp covers the manifest and chains to its authority's CA file (tsa-ca.pem; tsa2-ca.pem for a
#    second authority), its status is a plain 'granted' (PKIStatus 0, which openssl ts -verify does not look at),
#    and the message imprint it signs is the SHA-256 of MANIFEST.sha256.
digest=$(openssl dgst -sha256 -r MANIFEST.sha256 | cut -c1-64 | tr 'abcdef' 'ABCDEF')
stamp_check() {{
  openssl ts -verify -data MANIFEST.sha256 -in "$1" -CAfile "$2" > /dev/null 2>&1 \\
    || fail "$1 does not verify against $2"
  openssl asn1parse -inform DER -in "$1" | sed -n 3p \\
    | grep -Eq 'd=2 +hl=2 +l= *1 +prim: +INTEGER +:00 *$' || fail "$1: its status is not 'granted'"
  openssl asn1parse -inform DER -in "$1" \\
    | awk '/id-smime-ct-TSTInfo/ {{ f = 1; next }} f && /OCTET STRING/ {{ sub(/.*HEX DUMP\\]:/, ""); print; exit }}' \\
    | grep -Eq "^30.*(300D06096086480165030402010500|300B0609608648016503040201)0420$digest" \\
    || fail "$1: its message imprint is not the manifest's SHA-256"
  openssl ts -reply -in "$1" -text 2> /dev/null | grep -E '^(Time stamp|Serial number|Policy OID):'
}}
stamp_check MANIFEST.sha256.tsr tsa-ca.pem
if [ -f tsa2-ca.pem ]; then stamp_check MANIFEST.sha256.tsr2 tsa2-ca.pem; fi

# 6. The audit-log excerpt: every row recomputes and the case's chain is complete.
{AUDIT_SNIPPET}

echo "OK: every check passed. Signed with the operator's published key $fingerprint."
echo "The files are in $work/files"
"""


def verify_md_render(*, reference: str, fingerprint: str, files: list[str], annex: bool, external_tsa: bool,
                     site: str = "", tsa_label: str = "", second_tsa: str = "") -> bytes:
    listed = "\n".join(f"- `{name}`" for name in sorted({*files, bundle.SIGNING_PUB, bundle.TSA_CA,
                                                          bundle.VERIFY_MD, *([bundle.TSA2_CA] if second_tsa else [])}))
    tsa_note = (
        f"a public time-stamping authority ({tsa_label or 'named on the operator page below'}); `tsa-ca.pem` holds "
        "its CA certificates, which you can also obtain from that authority directly"
        if external_tsa
        else "the operator's own (local) time-stamping authority. The operator chose to vouch for the time "
        "itself (it publishes that choice, below): the stamp shows when the operator says the file was made, not a "
        "third party's word; `tsa-ca.pem` is that authority's CA certificate"
    )
    if second_tsa:
        tsa_note += (f", and stamped again by a second, independent authority ({second_tsa}): "
                     "`MANIFEST.sha256.tsr2`, checked against `tsa2-ca.pem`")
    site = site.rstrip("/")
    well_known = f"{site}{WELL_KNOWN_PATH}" if site else WELL_KNOWN_PATH
    keys_page = f"{site}{KEYS_PAGE_PATH}" if site else KEYS_PAGE_PATH
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
under RFC 3161 (`MANIFEST.sha256.tsr`) by {tsa_note}.

Files listed in the manifest:

{listed}

Not listed, because they are about the manifest: `MANIFEST.sha256`, `MANIFEST.sha256.sig`, `MANIFEST.sha256.tsr`.

## First: the operator's key, from outside this file

A key that comes inside the file proves nothing about who made it: anyone could re-sign an altered copy with a
key of their own and ship that key instead. So take the operator's signing-key fingerprint from the operator,
not from this file:

- its machine-readable list of export keys: {well_known} (`signing_keys[].fingerprint_sha256`), or
- its page for courts: {keys_page},

both of which also say which time-stamping authority it uses. Compare it, character by character, with the one
the check below prints. For reference, this file says its key's fingerprint is

    {fingerprint}

but only the published value counts.

## The commands

Save the block below as `check.sh` (any folder) and run it with any POSIX shell, giving the export's path,
whatever the file is called, and the published fingerprint:

    sh check.sh "case-file.zip" PUBLISHED-FINGERPRINT

It needs `unzip`, `openssl` (OpenSSL 3.0 or later; on macOS install `openssl@3`, as the system's LibreSSL lacks
Ed25519), `python3`, and the usual `sh`, `grep`, `sed`, `awk`, `cut`, `tr`, `sort`, `find`, `cmp` and `mktemp`
(GNU or BSD). It unpacks into a new temporary folder, stops at the first failed check with `FAILED: ...` and exit
status 1, and ends with `OK: ...` (exit 0) when every check passes.

```sh
{check_script()}```

What each step shows: (1, 2) the ZIP holds exactly the listed files, so none was added or removed; (3) none was
changed; (4) the manifest was signed by the holder of the published key; (5) the manifest existed when the
authority stamped it: the token verifies against `tsa-ca.pem`, its status is "granted" (`openssl ts -verify`
alone accepts other status values), and the digest it signs is the manifest's own; (6) the audit-log excerpt is
complete (below).

The platform's own checker does the same in one command, and also refuses to run unpinned:
`python manage.py verify_export case-file.zip --fingerprint PUBLISHED-FINGERPRINT` (or `--pubkey FILE` with the
operator's public key; exit 0 when every check passes, 1 naming the first that fails).

## The audit-log excerpt

`audit-log.json` holds every audit event about this case. The operator's log keeps one hash chain per case: each
row's `row_hash` is SHA-256 over its fields, its chain and position (`seq`), and the `row_hash` of the row before
it in the case's chain. The excerpt holds the case's whole chain, positions 1 to `chain_head.seq` with none
missing; `chain_head` is the chain's last row when this file was made, and is covered by the signature and the
time-stamp. A row changed, removed or inserted in the operator's log breaks the chain at that place; the export
itself is recorded as the next row of the chain, so the next export shows it.
{annex_text}
## What the files say

`case.pdf` is the summary for the court; `case.json` holds the same data for machines. The person is named
only by pseudonym and a court reference. Detector and provenance findings are stated with their limits;
perceptual-hash distances show likeness, not identity.
"""
    return text.encode("utf-8")
