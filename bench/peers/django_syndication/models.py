"""feedsvc's sections and articles tables, read as they are (unmanaged: no migrations)."""

from __future__ import annotations

from django.db import models


class Section(models.Model):
    guid = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    slug = models.CharField(max_length=80)
    description = models.TextField()
    items_per_feed = models.IntegerField()

    class Meta:
        managed = False
        db_table = "sections"


class Article(models.Model):
    guid = models.CharField(max_length=255)
    section = models.ForeignKey(Section, on_delete=models.DO_NOTHING)
    title = models.CharField(max_length=300)
    body_html = models.TextField()
    summary = models.TextField()
    author = models.CharField(max_length=120)
    status = models.CharField(max_length=16)
    publish_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "articles"
