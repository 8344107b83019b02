from django.urls import path

from takedown.core import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("staff/login/", views.staff_login, name="staff-login"),
    path("staff/logout/", views.staff_logout, name="staff-logout"),
    path("staff/", views.staff_home, name="staff-home"),
]
