"""The section feed with django.contrib.syndication, plus content:encoded (Django's recipe)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.feedgenerator import Rss201rev2Feed

from bench.peers.django_syndication.models import Article, Section


class ContentRss(Rss201rev2Feed):
    """RSS 2.0 with the full HTML in content:encoded, as feedsvc's feed has it."""

    def rss_attributes(self) -> dict[str, str]:
        attrs: dict[str, str] = super().rss_attributes()
        attrs["xmlns:content"] = "http://purl.org/rss/1.0/modules/content/"
        return attrs

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        handler.addQuickElement("content:encoded", item["content_encoded"])


class SectionFeed(Feed):
    feed_type = ContentRss
    language = "en"
    item_guid_is_permalink = False

    def get_object(self, request: HttpRequest, slug: str) -> Section:
        return get_object_or_404(Section, slug=slug)

    def title(self, obj: Section) -> str:
        return f"feedsvc: {obj.name}"

    def link(self, obj: Section) -> str:
        return f"/sections/{obj.slug}/"

    def feed_url(self, obj: Section) -> str:
        return f"/sections/{obj.slug}/rss.xml"

    def description(self, obj: Section) -> str:
        return obj.description or obj.name

    def items(self, obj: Section) -> QuerySet[Article]:
        return (
            Article.objects.select_related("section")
            .filter(section=obj, status="published", publish_at__lte=timezone.now())
            .order_by("-publish_at", "-id")[: obj.items_per_feed]
        )

    def item_title(self, item: Article) -> str:
        return item.title

    def item_description(self, item: Article) -> str:
        return item.summary

    def item_link(self, item: Article) -> str:
        return f"/articles/{item.pk}"

    def item_guid(self, item: Article) -> str:
        return item.guid

    def item_pubdate(self, item: Article) -> datetime | None:
        return item.publish_at

    def item_updateddate(self, item: Article) -> datetime:
        return item.updated_at

    def item_author_name(self, item: Article) -> str:
        return item.author or "feedsvc"

    def item_categories(self, item: Article) -> list[str]:
        return [item.section.name]

    def item_extra_kwargs(self, item: Article) -> dict[str, Any]:
        return {"content_encoded": item.body_html}
