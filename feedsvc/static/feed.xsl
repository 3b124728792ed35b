<?xml version="1.0" encoding="UTF-8"?>
<!--
  RSS 2.0 and Atom 1.0 feeds as an HTML page, for a person who opens a feed in a browser.

  Applied by the browser itself (XSLT 1.0): every feed of the site names it in
  <?xml-stylesheet type="text/xsl" href="…/feed.xsl"?>, and the web path sends the feed as
  application/xml to a request that prefers text/html (web/negotiation.py), the only type
  Chromium transforms. Feed readers never look at it.

  No script, no inline style: the page lives under the site's Content-Security-Policy
  (web/headers.py), so its look comes from the site's own style sheets, linked below.
  Every value is copied with xsl:value-of or as an attribute value, which the processor
  escapes: nothing in a feed ever becomes markup here (no disable-output-escaping).
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">

  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <!-- The site's path prefix, from this stylesheet's own href in the feed ("/feed.xsl", or
       "/news/feed.xsl" under a SITE_URL with a path): the style sheets and the icon sit
       beside it, on the feed's origin. -->
  <xsl:variable name="pi" select="/processing-instruction('xml-stylesheet')"/>
  <xsl:variable name="base" select="substring-before(substring-after($pi, 'href=&quot;'), 'feed.xsl')"/>

  <!-- U+2060 WORD JOINER: RSS plain-text fields carry it after a "<" or "&" so that readers
       guessing HTML show the same text (feeds/htmltext.py); here they are text, drop it. -->
  <xsl:variable name="joiner" select="'&#x2060;'"/>

  <xsl:variable name="is-atom" select="boolean(/atom:feed)"/>
  <xsl:variable name="format">
    <xsl:choose>
      <xsl:when test="$is-atom">Atom</xsl:when>
      <xsl:otherwise>RSS</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="title">
    <xsl:choose>
      <xsl:when test="$is-atom"><xsl:value-of select="/atom:feed/atom:title"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="translate(/rss/channel/title, $joiner, '')"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="description">
    <xsl:choose>
      <xsl:when test="$is-atom"><xsl:value-of select="/atom:feed/atom:subtitle"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="/rss/channel/description"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- rel="self" (RFC 4287 §4.2.7.2; in RSS the atom:link RSS Best Practices name): the
       address a reader subscribes to, whichever URL the browser came through. -->
  <xsl:variable name="feed-url">
    <xsl:choose>
      <xsl:when test="$is-atom"><xsl:value-of select="/atom:feed/atom:link[@rel='self']/@href"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="/rss/channel/atom:link[@rel='self']/@href"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="home-url">
    <xsl:choose>
      <xsl:when test="$is-atom"><xsl:value-of select="/atom:feed/atom:link[@rel='alternate']/@href"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="/rss/channel/link"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>

  <xsl:template match="/">
    <html>
      <xsl:attribute name="lang">
        <xsl:choose>
          <xsl:when test="$is-atom"><xsl:value-of select="/atom:feed/@xml:lang"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="/rss/channel/language"/></xsl:otherwise>
        </xsl:choose>
      </xsl:attribute>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (<xsl:value-of select="$format"/> feed)</title>
        <link rel="icon" href="{$base}favicon.ico"/>
        <link rel="stylesheet" href="{$base}static/site.css"/>
        <link rel="stylesheet" href="{$base}static/feed.css"/>
      </head>
      <body>
        <header class="site">
          <a class="brand" href="{$home-url}"><xsl:value-of select="$title"/></a>
        </header>
        <main class="feed-page">
          <section class="about-feed" aria-labelledby="about-feed">
            <h1 id="about-feed">This is a web feed</h1>
            <p>
              A feed lets you follow <strong><xsl:value-of select="$title"/></strong> without
              coming back to check: a feed reader (an app or a website) looks here for new
              articles and shows them to you as they appear. This page is what the feed looks
              like to a browser; your reader gets the same articles in
              <xsl:value-of select="$format"/> format.
            </p>
            <h2>Subscribe</h2>
            <p class="field">
              <label for="feed-url">Copy this address into your feed reader</label>
              <input id="feed-url" type="url" readonly="readonly" value="{$feed-url}"/>
            </p>
            <!-- The feed's address goes into each reader's URL as it is: it is this site's
                 own (SITE_URL plus a slug of [a-z0-9-]), and ":" and "/" are allowed in a
                 path and in a query (RFC 3986 §3.3, §3.4). -->
            <p>Or open it in one of these:</p>
            <ul class="readers">
              <li><a href="https://feedly.com/i/subscription/feed/{$feed-url}">Feedly</a></li>
              <li><a href="https://www.inoreader.com/?add_feed={$feed-url}">Inoreader</a></li>
              <li><a href="https://www.newsblur.com/?url={$feed-url}">NewsBlur</a></li>
              <li><a href="https://theoldreader.com/feeds/subscribe?url={$feed-url}">The Old Reader</a></li>
              <li><a href="feed:{$feed-url}">An app on this device</a> (NetNewsWire, Miniflux, Thunderbird…)</li>
            </ul>
          </section>
          <section class="feed-items" aria-labelledby="latest">
            <h2 id="latest">Latest articles</h2>
            <xsl:if test="string($description) != '' and $description != $title">
              <p class="hint"><xsl:value-of select="$description"/></p>
            </xsl:if>
            <xsl:choose>
              <xsl:when test="$is-atom and /atom:feed/atom:entry">
                <ul class="articles"><xsl:apply-templates select="/atom:feed/atom:entry"/></ul>
              </xsl:when>
              <xsl:when test="not($is-atom) and /rss/channel/item">
                <ul class="articles"><xsl:apply-templates select="/rss/channel/item"/></ul>
              </xsl:when>
              <xsl:otherwise><p>No articles yet.</p></xsl:otherwise>
            </xsl:choose>
            <p><a href="{$home-url}">More on the website</a></p>
          </section>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li>
      <h3><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h3>
      <p class="meta">
        <!-- RFC 3339 in UTC as the renderer writes it (2024-05-01T09:30:00+00:00). -->
        <time datetime="{atom:published}">
          <xsl:value-of select="translate(substring(atom:published, 1, 16), 'T', ' ')"/> UTC
        </time>
        <xsl:if test="atom:author/atom:name"> · <xsl:value-of select="atom:author/atom:name"/></xsl:if>
      </p>
      <xsl:if test="atom:summary"><p><xsl:value-of select="atom:summary"/></p></xsl:if>
    </li>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <h3><a href="{link}"><xsl:value-of select="translate(title, $joiner, '')"/></a></h3>
      <p class="meta">
        <xsl:value-of select="pubDate"/>
        <xsl:if test="dc:creator"> · <xsl:value-of select="translate(dc:creator, $joiner, '')"/></xsl:if>
      </p>
      <xsl:if test="description">
        <!-- RSS <description> is HTML, and feedsvc puts the plain-text summary there escaped
             once (feeds/rss.py): undo that one escape, and show the result as text. -->
        <p>
          <xsl:call-template name="unescape">
            <xsl:with-param name="text" select="description"/>
          </xsl:call-template>
        </p>
      </xsl:if>
    </li>
  </xsl:template>

  <!-- html.escape(quote=False)'s three entities back to their characters; &amp; last, so
       "&amp;lt;" comes out as the "&lt;" that was typed. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:call-template name="replace">
      <xsl:with-param name="text">
        <xsl:call-template name="replace">
          <xsl:with-param name="text">
            <xsl:call-template name="replace">
              <xsl:with-param name="text" select="$text"/>
              <xsl:with-param name="from" select="'&amp;lt;'"/>
              <xsl:with-param name="to" select="'&lt;'"/>
            </xsl:call-template>
          </xsl:with-param>
          <xsl:with-param name="from" select="'&amp;gt;'"/>
          <xsl:with-param name="to" select="'&gt;'"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="from" select="'&amp;amp;'"/>
      <xsl:with-param name="to" select="'&amp;'"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="replace">
    <xsl:param name="text"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($text, $from)">
        <xsl:value-of select="substring-before($text, $from)"/>
        <xsl:value-of select="$to"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
