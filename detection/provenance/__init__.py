"""Provenance: what a file says about its own origin (C2PA, IPTC/XMP, generator metadata, watermarks).

Pure Python, no Django, no network.
"""

from detection.provenance.reader import ProvenanceLimits, provenance_read
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal

__all__ = ["ProvenanceLimits", "ProvenanceReport", "ProvenanceSignal", "provenance_read"]
