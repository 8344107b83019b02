from django.urls import path

from victims import views

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.report_start, name="victims-report-start"),
    path("under-18/", views.under_18, name="victims-under-18"),
    path("help/", views.help_page, name="victims-help"),
    path("privacy/", views.privacy, name="victims-privacy"),
    path("report/", views.report_upload, name="victims-report-upload"),
    path("report/device/", views.report_device, name="victims-report-device"),
    path("report/done/", views.report_done, name="victims-report-done"),
    path("report/receipt/", views.receipt_download, name="victims-receipt"),
    path("case/", views.case_access, name="victims-case-access"),
    path("case/status/", views.case_status, name="victims-case-status"),
    path("case/urls/", views.case_urls, name="victims-case-urls"),
    path("case/evidence/", views.case_evidence, name="victims-case-evidence"),
    path("case/messages/", views.case_message, name="victims-case-message"),
    path("case/advocate-access/", views.case_advocates, name="victims-case-advocates"),
    path("case/images/<uuid:image_id>/", views.case_image, name="victims-case-image"),
    path("case/withdraw/", views.case_withdraw_view, name="victims-case-withdraw"),
    path("case/withdrawal-receipt/", views.case_withdrawal_receipt, name="victims-withdrawal-receipt"),
    path("case/leave/", views.case_leave, name="victims-case-leave"),
    path("exit/", views.quick_exit, name="quick-exit"),
]
