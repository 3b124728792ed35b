"""One route: the section's RSS feed."""

from __future__ import annotations

from django.urls import path

from bench.peers.django_syndication.feeds import SectionFeed

urlpatterns = [path("sections/<slug:slug>/rss.xml", SectionFeed())]
