<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <xsl:variable name="self"
      select="/rss/channel/atom:link[@rel='self']/@href | /atom:feed/atom:link[@rel='self']/@href"/>
  <xsl:variable name="kind">
    <xsl:choose>
      <xsl:when test="/rss">rss</xsl:when>
      <xsl:otherwise>atom</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <!-- The address without its format: .../north-africa. for .../north-africa.rss -->
  <xsl:variable name="stem"
      select="substring($self, 1, string-length($self) - string-length($kind))"/>
  <xsl:variable name="home"
      select="/rss/channel/link | /atom:feed/atom:link[@rel='alternate']/@href"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="/rss/channel/title | /atom:feed/atom:title"/> (feed)</title>
        <style>
          body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
                 padding: 0 1rem; line-height: 1.5; }
          .about { background: #eef4fb; border: 1px solid #c5d8ee; border-radius: .4rem;
                   padding: .8rem 1rem; }
          .about input { width: 100%; font: inherit; padding: .3rem; box-sizing: border-box; }
          .subscribe a { margin-right: .8rem; font-weight: 600; }
          .meta { color: #555; font-size: .9rem; }
          ol.items li { margin-bottom: 1rem; }
        </style>
      </head>
      <body>
        <nav><a class="home" href="{$home}">Section page</a></nav>
        <h1><xsl:value-of select="/rss/channel/title | /atom:feed/atom:title"/></h1>
        <p><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
        <div class="about">
          <p>This is a <strong>web feed</strong>. To follow it, copy this address into your
             feed reader (Thunderbird, NetNewsWire, Feedly, newsboat, ...):</p>
          <input class="address" type="text" readonly="readonly" value="{$self}"/>
          <p class="subscribe">Subscribe:
            <a class="rss" href="{$stem}rss" type="application/rss+xml">RSS</a>
            <a class="atom" href="{$stem}atom" type="application/atom+xml">Atom</a>
            <a class="json" href="{$stem}json" type="application/feed+json">JSON Feed</a>
          </p>
        </div>
        <h2>Latest items</h2>
        <ol class="items">
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
        </ol>
        <xsl:if test="not(/rss/channel/item | /atom:feed/atom:entry)">
          <p class="empty">No items yet.</p>
        </xsl:if>
      </body>
    </html>
  </xsl:template>

  <!-- An item in its language (the entry's own, else the feed's), laid out in the direction
       of its title: an Arabic item in this English page is right to left. -->
  <xsl:template match="item">
    <li class="item" lang="{dc:language | /rss/channel/language[not(current()/dc:language)]}"
        dir="auto">
      <a href="{link}"><xsl:value-of select="title"/></a><br/>
      <span class="meta"><xsl:value-of select="pubDate"/></span><br/>
      <!-- RSS readers read description as HTML, so the plain-text summary is escaped there
           once more: shown as text here, it is unescaped first (AT&amp;T, not AT&amp;amp;T),
           and stays text. -->
      <xsl:call-template name="unescape">
        <xsl:with-param name="text" select="description"/>
      </xsl:call-template>
    </li>
  </xsl:template>

  <!-- `text` with &lt; &gt; and then &amp; read back as < > and & (the reverse of
       html.escape(quote=False)): output as text, the characters are escaped again as HTML. -->
  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:param name="from" select="'&amp;lt;'"/>
    <xsl:choose>
      <xsl:when test="$from = '' or not(contains($text, '&amp;'))">
        <xsl:value-of select="$text"/>
      </xsl:when>
      <xsl:when test="contains($text, $from)">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="substring-before($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
        </xsl:call-template>
        <xsl:choose>
          <xsl:when test="$from = '&amp;lt;'">&lt;</xsl:when>
          <xsl:when test="$from = '&amp;gt;'">&gt;</xsl:when>
          <xsl:otherwise>&amp;</xsl:otherwise>
        </xsl:choose>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="substring-after($text, $from)"/>
          <xsl:with-param name="from" select="$from"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="$text"/>
          <xsl:with-param name="from">
            <xsl:choose>
              <xsl:when test="$from = '&amp;lt;'">&amp;gt;</xsl:when>
              <xsl:when test="$from = '&amp;gt;'">&amp;amp;</xsl:when>
            </xsl:choose>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="atom:entry">
    <li class="item" lang="{ancestor-or-self::*[@xml:lang][1]/@xml:lang}" dir="auto">
      <a href="{atom:link[@rel='alternate']/@href | atom:link[not(@rel)]/@href}">
        <xsl:value-of select="atom:title"/>
      </a><br/>
      <span class="meta"><xsl:value-of select="atom:published"/></span><br/>
      <xsl:value-of select="atom:summary"/>
    </li>
  </xsl:template>
</xsl:stylesheet>
