"""Who polls a feed, from its User-Agent alone: reader name, reported subscribers, crawler or not.

Pure (no Flask, no SQLAlchemy): analytics.py counts with it, for the web workers' polls and for
nginx's access log alike. Online aggregators poll once for all their users and say how many in
the User-Agent, a habit since Bloglines (2005) with no standard behind it (RFC 9110 §10.1.5
only says the field identifies the client); the shapes seen in the wild are:

    Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; )
    Mozilla/5.0 (compatible; inoreader.com; 12 subscribers)
    NewsBlur Feed Fetcher - 5 subscribers - https://www.newsblur.com/site/6865/x (Mozilla/5.0 …)
    Feedbin feed-id:1373711 - 2 subscribers
    Mozilla/5.0 (compatible; theoldreader.com; 3 subscribers; feed-id=cead6c3a…)
    Netvibes (crawler/bot; http://www.netvibes.com; 12 subscribers; feedID: 4200)
    Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=123)
    LiveJournal.com (webmaster@livejournal.com; for url; 1 readers)   ThePort_Web/1.0; subscribers 1
    PlainFeeder v0.0.1 (+http://plainfeeder.com/about ; Subscriber Count: 42)

so the count is read by pattern, whoever sends it. Everything else is one reader per client
(counted by analytics.py), unless it is a crawler: a search engine, an SEO or AI crawler, a link
previewer, a monitor, which fetch a feed but read nothing for anybody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Longer than any real User-Agent worth reading; a longer one is read up to here.
UA_MAX = 1000
# A reported count above this is not believed (no feed has a billion readers in one service).
SUBSCRIBERS_MAX = 1_000_000_000
NAME_MAX = 60
FEED_ID_MAX = 100


@dataclass(frozen=True)
class Reader:
    name: str  # "Feedly", "NetNewsWire", "Web browser", "Other"
    subscribers: int | None  # what an aggregator reports; None: one reader per client
    feed_id: str  # the aggregator's id for the feed ("" when it names none)
    crawler: bool  # True: not a reader; left out of every count


# "16 subscribers", "1 subscriber", "15 subscriber(s)", "1 readers" (LiveJournal, Dreamwidth).
_COUNT_AFTER = re.compile(r"(\d{1,12})\s*(?:subscribers?(?:\(s\))?|readers?)\b", re.IGNORECASE)
# "subscribers 1" (ThePort), "Subscriber Count: 42" (PlainFeeder), "users 2;" (Yahoo).
_COUNT_BEFORE = re.compile(
    r"\b(?:subscribers?(?:\s+count)?|users)\s*[:=]?\s*(\d{1,12})\b", re.IGNORECASE
)
# "feed-id:1373711", "feed-id=cead6c3a", "feedID: 4200", NewsBlur's "/site/6865/".
_FEED_ID = re.compile(r"feed[-_ ]?id\s*[:=]\s*([\w.-]+)", re.IGNORECASE)
_NEWSBLUR_SITE = re.compile(r"newsblur\.com/site/(\d+)", re.IGNORECASE)

# Known readers, first match wins: (pattern, name). Matched before the crawler test, so a
# reader whose name says "bot" or "crawler" (FeedlyBot, Netvibes, Bloglovin) stays a reader.
_KNOWN: tuple[tuple[str, str], ...] = (
    (r"feedly", "Feedly"),
    (r"inoreader", "Inoreader"),
    (r"newsblur", "NewsBlur"),
    (r"feedbin", "Feedbin"),
    (r"theoldreader|old reader", "The Old Reader"),
    (r"bazqux", "BazQux Reader"),
    (r"^feedfetcher-google", "Google Feedfetcher"),
    (r"netvibes", "Netvibes"),
    (r"bloglovin", "Bloglovin"),
    (r"feedspot", "Feedspot"),
    (r"feedhq", "FeedHQ"),
    (r"feedwrangler", "Feed Wrangler"),
    (r"digg (?:feed fetcher|reader)", "Digg Reader"),
    (r"newsgator", "NewsGator"),
    (r"bloglines", "Bloglines"),
    (r"livejournal", "LiveJournal"),
    (r"dreamwidth", "Dreamwidth"),
    (r"flipboard(?:rss|proxy)?", "Flipboard"),
    (r"superfeedr", "Superfeedr"),
    (r"feedburner", "FeedBurner"),
    (r"plainfeeder", "PlainFeeder"),
    (r"miniflux", "Miniflux"),
    (r"freshrss", "FreshRSS"),
    (r"tiny ?tiny ?rss|tt-rss", "Tiny Tiny RSS"),
    (r"nextcloud-news|owncloud-news", "Nextcloud News"),
    (r"commafeed", "CommaFeed"),
    (r"selfoss", "selfoss"),
    (r"fever/", "Fever"),
    (r"netnewswire", "NetNewsWire"),
    (r"reeder", "Reeder"),
    (r"readkit", "ReadKit"),
    (r"vienna/", "Vienna"),
    (r"newsboat", "Newsboat"),
    (r"newsbeuter", "Newsboat"),
    (r"liferea", "Liferea"),
    (r"quiterss", "QuiteRSS"),
    (r"rssowl", "RSSOwl"),
    (r"akregator", "Akregator"),
    (r"thunderbird|icedove", "Thunderbird"),
    (r"feeder|spacecowboy", "Feeder"),
    (r"readyou|read you", "Read You"),
    (r"feedflow", "FeedFlow"),
    (r"fluent ?reader", "Fluent Reader"),
    (r"feedbro", "Feedbro"),
    (r"newsify", "Newsify"),
    (r"unread/|unread rss", "Unread"),
    (r"readwise", "Readwise Reader"),
    (r"feedme", "FeedMe"),
    (r"rss ?guard", "RSS Guard"),
    (r"rss2email|\br2e\b", "rss2email"),
    (r"blogtrottr", "Blogtrottr"),
    (r"ifttt", "IFTTT"),
    (r"zapier", "Zapier"),
    (r"mailchimp", "Mailchimp RSS"),
    (r"slackbot 1\.0", "Slack"),
    (r"universalfeedparser|feedparser", "Python feedparser"),
    (r"simplepie", "SimplePie"),
    (r"\brome client|\brome/", "ROME"),
    (r"\bcurl/", "curl"),
    (r"\bwget/", "Wget"),
)
_KNOWN_RE = tuple((re.compile(p, re.IGNORECASE), name) for p, name in _KNOWN)
# Services that report their count: one of their polls without it (a preview, a discovery
# fetch: "FeedlyBot/1.0 (http://feedly.com)") adds nobody rather than one more reader.
_AGGREGATORS = frozenset(
    {"Feedly", "Inoreader", "NewsBlur", "Feedbin", "The Old Reader", "BazQux Reader",
     "Google Feedfetcher", "Netvibes", "NewsGator", "Bloglines", "Digg Reader", "PlainFeeder"}
)  # fmt: skip

# Not readers. Named ones first (some carry no "bot": Slurp, facebookexternalhit, ...), then
# the words crawlers put in their names. Link previewers fetch a URL someone pasted, once.
_CRAWLER = re.compile(
    r"bot\b|bot[/_;-]|crawl|spider|slurp|scrap|archiv|ia_archiver|facebookexternalhit"
    r"|meta-externalagent|whatsapp|embedly|iframely|preview|linkexpand|headless|lighthouse"
    r"|pagespeed|validator|monitor|uptime|pingdom|statuscake|check|scanner|zgrab|masscan"
    r"|nmap|nuclei|sqlmap|nikto|python-httpx|scrapy|anthropic-ai|claude-web|cohere-ai"
    r"|bytespider|ccbot|gptbot|chatgpt|perplexity|diffbot|seekport|sogou|yandex|baidu|petalbot"
    r"|mediapartners-google|google-inspectiontool|qwant|netcraft|censys|expanse"
    # Fediverse servers fetch a link someone posted, for its preview card.
    r"|mastodon|pleroma|akkoma|misskey|cardyb",
    re.IGNORECASE,
)
# A browser someone opened the feed in (web/negotiation.py shows them a page): a reader.
_BROWSER = re.compile(r"^Mozilla/5\.0 \(.*\b(?:Firefox|Chrome|Safari|Edg)/", re.IGNORECASE)
_LIBRARY = re.compile(
    r"python-requests|python-urllib|aiohttp|go-http-client|okhttp|java/|apache-httpclient"
    r"|libwww-perl|lwp::|node-fetch|axios|undici|guzzle|ruby|faraday|httpie|reqwest",
    re.IGNORECASE,
)
# The first product token, for an aggregator not in the table: "NewsHutch/1.0 (…)".
_PRODUCT = re.compile(r"^([A-Za-z][\w.!-]{1,59})")
_COMPATIBLE = re.compile(r"\(compatible;\s*([^;)]+)", re.IGNORECASE)


def subscribers(user_agent: str) -> int | None:
    """The count an aggregator reports in its User-Agent, or None when it reports none."""
    match = _COUNT_AFTER.search(user_agent) or _COUNT_BEFORE.search(user_agent)
    if match is None:
        return None
    return min(int(match.group(1)), SUBSCRIBERS_MAX)


def feed_id(user_agent: str) -> str:
    """The aggregator's id of the feed, when it says (it may poll one feed under several)."""
    match = _FEED_ID.search(user_agent) or _NEWSBLUR_SITE.search(user_agent)
    return match.group(1)[:FEED_ID_MAX] if match else ""


def _known(user_agent: str) -> str | None:
    for pattern, name in _KNOWN_RE:
        if pattern.search(user_agent):
            return name
    return None


def _product(user_agent: str) -> str:
    """A name for an unknown aggregator: its compatible token, else its first product token."""
    compatible = _COMPATIBLE.search(user_agent)
    if compatible is not None:
        token = compatible.group(1).strip()
        return (token.split("/")[0] or "Other")[:NAME_MAX]
    match = _PRODUCT.match(user_agent)
    return match.group(1).split("/")[0][:NAME_MAX] if match else "Other"


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> Reader:
    """Who this User-Agent is. Cached: a site sees the same few hundred strings all day."""
    ua = user_agent.strip()[:UA_MAX]
    if not ua:
        # Every reader names itself; a bare request is a script or a probe.
        return Reader("No User-Agent", None, "", crawler=True)
    count = subscribers(ua)
    name = _known(ua)
    if count is not None:
        return Reader(name or _product(ua), count, feed_id(ua), crawler=False)
    if name is not None:
        if name in _AGGREGATORS:
            return Reader(name, 0, feed_id(ua), crawler=False)
        return Reader(name, None, "", crawler=False)
    if _CRAWLER.search(ua):
        return Reader("Crawler", None, "", crawler=True)
    if _BROWSER.search(ua):
        return Reader("Web browser", None, "", crawler=False)
    if _LIBRARY.search(ua):
        return Reader("HTTP library", None, "", crawler=False)
    return Reader("Other", None, "", crawler=False)
