from django.urls import path

from takedown.moderation import views

urlpatterns = [
    path("staff/moderation/", views.queue, name="moderation-queue"),
    path("staff/moderation/claim/", views.claim_next, name="moderation-claim-next"),
    path("staff/moderation/items/<uuid:item_id>/", views.review, name="moderation-review"),
    path("staff/moderation/items/<uuid:item_id>/claim/", views.claim, name="moderation-claim"),
    path("staff/moderation/items/<uuid:item_id>/release/", views.release, name="moderation-release"),
    path("staff/moderation/items/<uuid:item_id>/decide/", views.decide, name="moderation-decide"),
    path("staff/moderation/items/<uuid:item_id>/second-review/", views.second_review,
         name="moderation-second-review"),
    path("staff/moderation/items/<uuid:item_id>/reply/", views.reply, name="moderation-reply"),
    path("staff/moderation/items/<uuid:item_id>/done/", views.item_done, name="moderation-item-done"),
    path("staff/moderation/items/<uuid:item_id>/close-message/", views.message_close,
         name="moderation-message-close"),
    path("staff/moderation/items/<uuid:item_id>/shield/", views.shield, name="moderation-shield"),
    path("staff/moderation/items/<uuid:item_id>/images/<uuid:image_id>/reveal/", views.reveal,
         name="moderation-reveal"),
    path("staff/moderation/items/<uuid:item_id>/images/<uuid:image_id>/", views.image, name="moderation-image"),
    path("staff/transparency/", views.transparency, name="transparency"),
    path("staff/transparency.csv", views.transparency_csv_view, name="transparency-csv"),
]
