"""Who polled: User-Agents seen in real logs, and what each must count as."""

from __future__ import annotations

import pytest

from feedsvc.readers import classify

# (User-Agent as readers send it, reader, subscribers it reports or None, its feed-id or "").
# Collected from publishers' logs and the readers' own documentation pages.
AGGREGATORS = [
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; )", "Feedly", 16, ""),
    ("Feedly/1.0 (+https://feedly.com/poller.html; 462 subscribers; )", "Feedly", 462, ""),
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1 subscriber; )", "Feedly", 1, ""),
    ("Mozilla/5.0 (compatible; Inoreader/1.0; +http://www.inoreader.com; 12 subscribers)",
     "Inoreader", 12, ""),
    ("Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)", "Inoreader", 114, ""),
    ("NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/7704055/"
     "rendezvous-with-cassidoo (\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.1 Safari/605.1.15\")",
     "NewsBlur", 27, "7704055"),
    ("Feedbin feed-id:1373711 - 2 subscribers", "Feedbin", 2, "1373711"),
    ("Feedbin feed-id:12345 - 1 subscriber", "Feedbin", 1, "12345"),
    ("Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; feed-id=cead6c3a837650eeefd8fe4a)",
     "The Old Reader", 1, "cead6c3a837650eeefd8fe4a"),
    ("Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1 subscribers)",
     "BazQux Reader", 1, ""),
    ("Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 167 subscribers; "
     "feed-id=1234567890)", "Google Feedfetcher", 167, "1234567890"),
    ("Bloglines/3.1 (http://www.bloglines.com; 154 subscribers)", "Bloglines", 154, ""),
    ("NewsGatorOnline/2.0 (http://www.newsgator.com; 99 subscribers)", "NewsGator", 99, ""),
    ("Newshutch/1.0 (http://newshutch.com; 12 subscribers)", "Newshutch", 12, ""),
    ("Dreamwidth Studios (webmaster@dreamwidth.org; for https://www.dreamwidth.org/users/"
     "vikingschoice_feed/; 2 readers)", "Dreamwidth", 2, ""),
    ("PlainFeeder v0.0.1 (+http://plainfeeder.com/about ; Subscriber Count: 42)",
     "PlainFeeder", 42, ""),
    ("ThePort_Web/1.0; subscribers 1", "ThePort_Web", 1, ""),
]  # fmt: skip

READERS = [
    ("Mozilla/5.0 (compatible; Miniflux/2.0.51; +https://miniflux.app)", "Miniflux"),
    ("FreshRSS/1.23.1 (Linux; https://freshrss.org)", "FreshRSS"),
    ("Tiny Tiny RSS/23.10-ad5bf1b6c (https://tt-rss.org/)", "Tiny Tiny RSS"),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "NetNewsWire"),
    ("Newsboat/2.34.0 (Linux x86_64)", "Newsboat"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0", "Thunderbird"),
    ("UniversalFeedParser/6.0.11 +https://github.com/kurtmckee/feedparser/", "Python feedparser"),
    ("curl/8.5.0", "curl"),
    ("Wget/1.21.4", "Wget"),
    ("Mozilla/5.0 (compatible; Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; "
     "like FeedFetcher-Google)", "Feedspot"),
    ("Bloglovin/1.0 (rss crawler; +http://www.bloglovin.com/)", "Bloglovin"),
    ("Liferea/1.15.4 (Linux; en_US.UTF-8; https://lzone.de/liferea/)", "Liferea"),
    ("Slackbot 1.0 (+https://api.slack.com/robots)", "Slack"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36", "Web browser"),
    ("python-requests/2.31.0", "HTTP library"),
]  # fmt: skip

CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html) Chrome/120.0.6099.71 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mastodon/4.2.8 (http.rb/5.1.1; +https://mastodon.social/) Bot",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "",
]


@pytest.mark.parametrize(("ua", "name", "count", "feed_id"), AGGREGATORS)
def test_aggregators_count_as_the_subscribers_they_report(
    ua: str, name: str, count: int, feed_id: str
) -> None:
    reader = classify(ua)
    assert (reader.name, reader.subscribers, reader.feed_id, reader.crawler) == (
        name,
        count,
        feed_id,
        False,
    )


@pytest.mark.parametrize(("ua", "name"), READERS)
def test_other_readers_count_once_per_client(ua: str, name: str) -> None:
    reader = classify(ua)
    assert (reader.name, reader.subscribers, reader.crawler) == (name, None, False)


@pytest.mark.parametrize("ua", CRAWLERS)
def test_crawlers_are_left_out(ua: str) -> None:
    assert classify(ua).crawler


def test_an_aggregator_polling_without_a_count_adds_nobody() -> None:
    # A discovery or preview fetch: counting it as one more reader would add to its N.
    reader = classify("FeedlyBot/1.0 (http://feedly.com)")
    assert (reader.name, reader.subscribers, reader.crawler) == ("Feedly", 0, False)
