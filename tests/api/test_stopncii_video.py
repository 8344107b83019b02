"""StopNCII's VideoMD5 from our endpoints, read by the unmodified python-threatexchange client over HTTP, served
by the real bank: a video's MD5 is VideoMD5 (an image's MD5 and vPDQ have no StopNCII type and are not served),
withdrawal reaches the client, and a VideoMD5 the client submits lands as video_md5."""

from __future__ import annotations

import uuid

import pytest
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIISignalType,
)
from threatexchange.exchanges.impl.stop_ncii_api import _get_delta_mapping
from threatexchange.signal_type.md5 import VideoMD5Signal

from detection.bank import bank_add, bank_views_reset, bank_withdraw_source
from detection.models import BankEntry
from detection.videomatch import VpdqFeature
from detection.vpdqbank import bank_vpdq_add
from takedown.partners.models import PartnerFeedback
from tests.api.test_stopncii import client_for
from tests.hashes import HashMaker

maker = HashMaker(1819)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_unmodified_client_reads_video_md5_records(live_server, make_partner, settings) -> None:
    settings.PARTNER_API_BANK = "takedown.partners.bank_detection.detection_bank"
    settings.PARTNER_SYNC_SAFETY_SECONDS = 0
    bank_views_reset()
    case_a, case_b = str(uuid.uuid4()), str(uuid.uuid4())
    video_md5, withdrawn_md5, image_md5 = maker.hex(128), maker.hex(128), maker.hex(128)
    bank_add(signal_type="video_md5", value=video_md5, quality=None, source_kind="case", source_id=case_a,
             status="Active")
    bank_add(signal_type="video_md5", value=withdrawn_md5, quality=None, source_kind="case", source_id=case_b,
             status="Active")
    bank_withdraw_source(source_kind="case", source_id=case_b)
    bank_add(signal_type="md5", value=image_md5, quality=None, source_kind="case", source_id=case_a, status="Active")
    bank_vpdq_add(features=[VpdqFeature(maker.pdq(), 90, 0.0)], source_kind="case", source_id=case_a, status="Active")
    client = client_for(make_partner(name="Example Social"), live_server.url)

    records = {r.hashValue: r for page in client.fetch_hashes_iter() for r in page.hashRecords}
    assert set(records) == {video_md5, withdrawn_md5}
    assert {r.signalType for r in records.values()} == {StopNCIISignalType.VideoMD5}
    assert records[withdrawn_md5].hashStatus == StopNCIICaseStatus.Withdrawn
    assert records[video_md5].hashStatus == StopNCIICaseStatus.Active
    # The client's exchange maps VideoMD5 onto its own video MD5 signal type.
    assert _get_delta_mapping(records[video_md5])[0] == (VideoMD5Signal.get_name(), video_md5)

    client.submit_feedback(StopNCIISignalType.VideoMD5, video_md5, StopNCIICSPFeedbackValue.Blocked, {"upload"})
    feedback = PartnerFeedback.objects.get()
    assert feedback.value == "Blocked" and feedback.bank_entry_id == BankEntry.objects.get(value=video_md5).id

    submitted = maker.hex(128)
    client.submit_hash(StopNCIISignalType.VideoMD5, submitted, {"own-detection"})
    entry = BankEntry.objects.get(value=submitted)
    assert (entry.signal_type, entry.status) == ("video_md5", "Received")
    bank_views_reset()
