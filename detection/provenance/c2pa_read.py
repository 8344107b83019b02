"""C2PA manifests through c2pa-python (the Content Authenticity Initiative's Rust SDK), offline.

Remote manifests and OCSP are never fetched. Validation answers "Trusted" only against trust anchors
the operator configures (PEM), and only then is the signal "verified". A manifest whose signature and hashes
check out but whose signer is not under those anchors is a "claimed" signal like unsigned metadata: it proves
the file is unchanged since a certificate holder signed it, not who that holder is, and anyone can make a
certificate (an abuser can sign their own deepfake "digitalCapture").
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from typing import Any

from detection.provenance.metadata import generator_named
from detection.provenance.signals import (
    CAPTURED_SOURCE_TYPES,
    GENERATED_SOURCE_TYPES,
    ProvenanceSignal,
    Strength,
    clip,
    source_type_code,
)

# c2pa-python's error subclasses (C2paError.<Name>) that mean "nothing to read here", not "broken".
_NOT_APPLICABLE = frozenset({"ManifestNotFound", "NotSupported"})
# Validation failure codes that say only "signer not trusted" (C2PA 2.x section 15.7).
_UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})


class C2paUnavailable(RuntimeError):
    """c2pa-python is not installed; C2PA cannot be read (reported as a skipped check)."""


@lru_cache(maxsize=4)
def _context(trust_anchors_pem: str) -> Any:
    try:
        import c2pa
    except ImportError as exc:
        raise C2paUnavailable("c2pa-python is not installed") from exc
    settings: dict[str, Any] = {
        "verify": {
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
            "verify_trust": bool(trust_anchors_pem),
        },
    }
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def c2pa_read(data: bytes, *, mime: str = "", trust_anchors_pem: str = "") -> tuple[list[ProvenanceSignal], str]:
    """Signals from the file's C2PA manifest store, and an "unreadable" reason ("" when fine or absent)."""
    import c2pa

    context = _context(trust_anchors_pem)
    try:
        reader = c2pa.Reader.try_create(mime or None, io.BytesIO(data), None, context)
        if reader is None:
            return [], ""
        with reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        name = type(exc).__name__.lstrip("_").removeprefix("C2pa")
        if name in _NOT_APPLICABLE:
            return [], ""
        # c2pa-rs raises these for a broken manifest and for a container it cannot parse alike.
        return [], f"c2pa: manifest or file structure unreadable ({name or 'error'})"
    except (ValueError, UnicodeDecodeError) as exc:
        return [], f"c2pa: manifest report is not valid JSON ({type(exc).__name__})"
    return [_signal(store, trust_anchors_pem=trust_anchors_pem)], ""


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, dict) and str(assertion.get("label", "")).startswith("c2pa.actions"):
            data = assertion.get("data") or {}
            actions.extend(a for a in data.get("actions") or [] if isinstance(a, dict))
    return actions


def _agent_name(agent: object) -> str:
    if isinstance(agent, dict):
        return str(agent.get("name", ""))
    return str(agent) if agent else ""


def _signal(store: dict[str, Any], *, trust_anchors_pem: str) -> ProvenanceSignal:
    state = str(store.get("validation_state", ""))
    manifests: dict[str, Any] = store.get("manifests") or {}
    active_label = str(store.get("active_manifest", ""))
    generated: list[dict[str, str]] = []
    captured: list[str] = []
    for label, manifest in manifests.items():
        if not isinstance(manifest, dict):
            continue
        where = "active manifest" if label == active_label else "ingredient manifest"
        for action in _actions(manifest):
            code = source_type_code(str(action.get("digitalSourceType", "")))
            agent = _agent_name(action.get("softwareAgent"))
            if code in GENERATED_SOURCE_TYPES:
                generated.append({"type": code, "agent": clip(agent, 80), "where": where})
            elif code not in CAPTURED_SOURCE_TYPES and (named := generator_named(agent)):
                # No source type, but the action's softwareAgent (a structured field) names a generator.
                generated.append({"type": f"softwareAgent names {named}", "agent": clip(agent, 80), "where": where})
            elif code in CAPTURED_SOURCE_TYPES and label == active_label:
                captured.append(code)
    active = manifests.get(active_label) or {}
    claim_generators = [
        clip(str(info.get("name", "")), 80)
        for info in active.get("claim_generator_info") or []
        if isinstance(info, dict)
    ]
    if not claim_generators and active.get("claim_generator"):
        claim_generators = [clip(str(active["claim_generator"]), 80)]
    signature = active.get("signature_info") or {}
    signer = " / ".join(clip(str(signature.get(k, "")), 80) for k in ("common_name", "issuer") if signature.get(k))
    failures = sorted(
        {
            str(entry.get("code", ""))
            for entry in ((store.get("validation_results") or {}).get("activeManifest") or {}).get("failure") or []
            if isinstance(entry, dict)
        }
    )
    # With trust anchors configured, c2pa-rs marks a signer outside them as a validation failure; the
    # signature and hashes still check out, so that is "valid but untrusted", not "tampered".
    untrusted_only = bool(failures) and set(failures) <= _UNTRUSTED_CODES
    trusted = state == "Trusted"
    if trusted:
        validity = f"valid, signed by {signer or 'unknown signer'}, trusted"
        trust = "the signer chains to a trust anchor the operator configured (C2PA_TRUST_ANCHORS_PEM)"
        strength: Strength = "verified"
    elif state == "Valid" or (state == "Invalid" and untrusted_only):
        validity = f"valid signature by {signer or 'unknown signer'}, NOT trusted"
        trust = (
            "the signer does not chain to any trust anchor the operator configured"
            if trust_anchors_pem
            else "no C2PA trust anchors are configured (C2PA_TRUST_ANCHORS_PEM is empty), so no signer is trusted; "
            "anyone can make a certificate and sign any claim"
        )
        strength = "claimed"
    else:
        validity = f"fails validation ({', '.join(failures[:5]) or state or 'unknown state'})"
        trust = "the manifest fails validation"
        strength = "invalid"
    says: bool | None = None
    if generated:
        says = True
        first = generated[0]
        tool = first["agent"] or (claim_generators[0] if claim_generators else "an unnamed tool")
        what = f"says generated by {tool} ({first['type']}, {first['where']})"
    elif captured:
        says = False
        what = f"says captured ({captured[0]})"
        if not trusted:
            what += ": an untrusted claim, not weighed against other evidence"
    else:
        what = "makes no claim about generation"
    return ProvenanceSignal(
        kind="c2pa",
        strength=strength,
        says_generated=says,
        summary=f"C2PA manifest ({validity}) {what}",
        detail={
            "validation_state": state,
            "trusted": trusted,
            "trust": trust,
            "signer": signer,
            "claim_generators": claim_generators,
            "generated_actions": generated[:10],
            "captured_types": sorted(set(captured)),
            "failure_codes": failures[:20],
            "manifest_count": len(manifests),
        },
    )
