"""Importing an RSS 2.0 or Atom feed into a section: fetch or read, parse safely, save each item."""
