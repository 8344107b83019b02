from django.urls import path

from takedown.remedies import bounce_hook, views

urlpatterns = [
    path("staff/remedies/cases/<uuid:case_id>/", views.case_requests, name="remedies-case"),
    path("staff/remedies/requests/<uuid:request_id>/document.<str:fmt>", views.document, name="remedies-document"),
    path("staff/remedies/requests/<uuid:request_id>/send/", views.send, name="remedies-send"),
    path("staff/remedies/requests/<uuid:request_id>/outcome/", views.outcome, name="remedies-outcome"),
    path("staff/remedies/messages/<uuid:message_id>/raw", views.message_raw, name="remedies-message-raw"),
    path("hooks/remedies/bounce", bounce_hook.bounce_webhook, name="remedies-bounce-webhook"),
    path("staff/remedies/court-orders/<uuid:order_id>/order.pdf", views.court_order_pdf,
         name="remedies-court-order-pdf"),
]
