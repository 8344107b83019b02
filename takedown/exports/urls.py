from django.urls import path

from takedown.exports import court_orders, views

urlpatterns = [
    # Public trust anchors for court files: the export-key fingerprint and the TSA choice, outside any file.
    path(".well-known/takedown-export-keys", views.export_keys_published, name="exports-keys-json"),
    path("court-exports/keys/", views.export_keys_page, name="exports-keys-page"),
    path("staff/advocate/", views.advocate_cases, name="exports-advocate-cases"),
    path("staff/advocate/profile/", views.advocate_profile, name="exports-advocate-profile"),
    path("staff/advocate/cases/<str:reference>/", views.advocate_case, name="exports-advocate-case"),
    path("staff/advocate/cases/<str:reference>/export/", views.advocate_export, name="exports-advocate-export"),
    path("staff/advocate/cases/<str:reference>/court-order/", court_orders.advocate_court_order,
         name="exports-advocate-court-order"),
    path("staff/grants/", views.staff_grants, name="exports-staff-grants"),
    path("staff/grants/<uuid:grant_id>/revoke/", views.staff_grant_revoke, name="exports-staff-grant-revoke"),
]
