from django.urls import path

from takedown.api import docs, feedback, hma, lookup, me, removal_requests, stopncii, sync, video

urlpatterns = [
    path("api/v1/me", me.MeView.as_view(), name="api-me"),
    path("api/v1/lookup", lookup.LookupView.as_view(), name="api-lookup"),
    path("api/v1/lookup/batch", lookup.LookupBatchView.as_view(), name="api-lookup-batch"),
    path("api/v1/lookup/vpdq", video.VpdqLookupView.as_view(), name="api-lookup-vpdq"),
    path("api/v1/lookup/vpdq/batch", video.VpdqLookupBatchView.as_view(), name="api-lookup-vpdq-batch"),
    path("api/v1/hashes", sync.HashChangesView.as_view(), name="api-hashes"),
    path("api/v1/feedback", feedback.FeedbackView.as_view(), name="api-feedback"),
    path("api/v1/removal-requests", removal_requests.RemovalRequestsView.as_view(), name="api-removal-requests"),
    path("api/v1/removal-requests/acknowledge", removal_requests.RemovalRequestAcknowledgeView.as_view(),
         name="api-removal-requests-acknowledge"),
    path("api/stopncii/v1/FetchHashes", stopncii.FetchHashesView.as_view(), name="stopncii-fetch"),
    path("api/stopncii/v1/SubmitFeedback", stopncii.SubmitFeedbackView.as_view(), name="stopncii-feedback"),
    path("api/stopncii/v1/SubmitHashes", stopncii.SubmitHashesView.as_view(), name="stopncii-submit"),
    path("m/lookup", hma.HMALookupView.as_view(), name="hma-lookup"),
    path("api/schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", docs.DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
