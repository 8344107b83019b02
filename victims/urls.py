from django.urls import path

from victims import views

urlpatterns = [
    path("", views.home, name="home"),
]
