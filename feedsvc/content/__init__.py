"""Editor input to feed-safe content: XML-legal text, sanitised HTML, summaries and slugs."""
