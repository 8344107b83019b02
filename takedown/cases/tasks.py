"""Thin tasks: each takes ids and calls one service."""

from __future__ import annotations

import uuid

from celery import shared_task
from django.db import DatabaseError

from takedown.cases.services import ANALYSE_TASK, case_images_analyse, retention_purge


# Routed to the `gpu` queue (settings.CELERY_TASK_ROUTES), which the GPU worker consumes: it holds the model.
# Retried on what is usually passing (CUDA out of memory and other torch runtime errors, a lost database
# connection); a result is written only once it is complete, so a retry repeats nothing that was stored.
@shared_task(name=ANALYSE_TASK, ignore_result=True, autoretry_for=(RuntimeError, DatabaseError),
             retry_backoff=5, retry_backoff_max=300, retry_jitter=True, max_retries=3)
def images_analyse(image_ids: list[str]) -> dict[str, int]:
    return case_images_analyse(image_ids=[uuid.UUID(image_id) for image_id in image_ids]).as_dict()


@shared_task(name="cases.retention_purge", ignore_result=True)
def retention_purge_task() -> dict[str, int]:
    return retention_purge().as_dict()


@shared_task(name="detection.videos_analyse", ignore_result=True, autoretry_for=(RuntimeError, DatabaseError),
             retry_backoff=5, retry_backoff_max=300, retry_jitter=True, max_retries=3)
def videos_analyse(video_ids: list[str]) -> dict[str, int]:
    """Score a video's keyframes on the gpu queue (settings.CELERY_TASK_ROUTES), like images_analyse."""
    from takedown.cases.video_analysis import case_videos_analyse

    return case_videos_analyse(video_ids=[uuid.UUID(video_id) for video_id in video_ids]).as_dict()
