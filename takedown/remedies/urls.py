from django.urls import path

from takedown.remedies import views

urlpatterns = [
    path("staff/remedies/cases/<uuid:case_id>/", views.case_requests, name="remedies-case"),
    path("staff/remedies/requests/<uuid:request_id>/document.<str:fmt>", views.document, name="remedies-document"),
    path("staff/remedies/requests/<uuid:request_id>/send/", views.send, name="remedies-send"),
    path("staff/remedies/requests/<uuid:request_id>/outcome/", views.outcome, name="remedies-outcome"),
    path("staff/remedies/court-orders/<uuid:order_id>/order.pdf", views.court_order_pdf,
         name="remedies-court-order-pdf"),
]
