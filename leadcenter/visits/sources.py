"""Where a visit came from, read from its landing page's URL and its referrer: a pure function.

The precedence (docs/architecture.md, "Visits and attribution"):
1. a click id: ``gclid`` -> Google Ads, ``msclkid`` -> Bing Ads, ``fbclid`` -> Facebook;
2. UTM parameters: ``utm_source`` (google, bing, facebook, yelp are named as above; any other as it is) and
   ``utm_medium`` (cpc, ppc, paid... make a search engine's "Ads", any other medium its "organic");
3. the referrer's host: google.* -> Google organic, bing.com -> Bing organic, facebook.com -> Facebook, yelp.com ->
   Yelp, another site -> "Referral <host>" (the site's own pages are no referrer);
4. Direct.
``utm_campaign``, ``utm_term`` and ``utm_content`` are kept whatever decided the source.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

PAID_MEDIUMS = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid_search",
        "paid-search",
        "cpm",
        "paid_social",
        "paidsocial",
        "paid-social",
        "display",
    }
)
CLICK_IDS = (
    ("gclid", "Google Ads", "cpc", "google_ads"),
    ("msclkid", "Bing Ads", "cpc", "bing_ads"),
    ("fbclid", "Facebook", "social", "facebook"),
)
LIMIT = 500  # characters kept of each field (URLs are bounded by the request's size already)
_GOOGLE = re.compile(r"(^|\.)google\.[a-z]{2,3}(\.[a-z]{2})?$")


@dataclass(frozen=True)
class Source:
    source: str  # as people read it: "Google Ads", "Google organic", "Referral news.example", "Direct"...
    medium: str  # cpc, organic, social, referral, none, or utm_medium as sent
    channel: str  # the swap source it matches (TrackingNumber.SWAP_SOURCES), "" for none of them
    campaign: str = ""
    keyword: str = ""
    content: str = ""
    click_id: str = ""
    click_id_kind: str = ""  # gclid, msclkid, fbclid or ""
    utm_source: str = ""
    referrer_host: str = ""


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _params(url: str) -> dict[str, str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {name: values[0][:LIMIT] for name, values in parse_qs(query, max_num_fields=100).items() if values[0]}


def _engine(name: str) -> str:
    """google, bing, facebook, yelp (a UTM source or a referring host's), or ""."""
    name = name.lower()
    if name in ("google", "adwords", "googleads") or _GOOGLE.search(name):
        return "google"
    if name == "bing" or name == "bing.com" or name.endswith(".bing.com"):
        return "bing"
    if name in ("facebook", "fb", "instagram", "meta") or re.search(r"(^|\.)(facebook|fb)\.com$", name):
        return "facebook"
    if name == "yelp" or re.search(r"(^|\.)yelp\.[a-z.]+$", name):
        return "yelp"
    return ""


def _named(engine: str, paid: bool) -> tuple[str, str]:
    """(source, channel) of a known engine."""
    if engine in ("google", "bing"):
        title = engine.title()
        return (f"{title} Ads", f"{engine}_ads") if paid else (f"{title} organic", f"{engine}_organic")
    return engine.title(), engine


def classify(url: str, referrer: str) -> Source:
    """The source of a visit that landed on ``url`` from ``referrer`` (either may be empty or junk)."""
    params = _params(url)
    utm = {key: params.get(f"utm_{key}", "") for key in ("source", "medium", "campaign", "term", "content")}
    host, referrer_host = _host(url), _host(referrer)
    if referrer_host == host:
        referrer_host = ""  # the site's own page: not where the visitor came from
    kept = dict(
        campaign=utm["campaign"],
        keyword=utm["term"],
        content=utm["content"],
        utm_source=utm["source"],
        referrer_host=referrer_host,
    )
    for kind, source, medium, channel in CLICK_IDS:
        if params.get(kind):
            return Source(source, utm["medium"] or medium, channel, click_id=params[kind], click_id_kind=kind, **kept)
    if utm["source"]:
        medium = utm["medium"].lower()
        engine = _engine(utm["source"])
        if engine:
            source, channel = _named(engine, medium in PAID_MEDIUMS)
            return Source(source, utm["medium"] or ("cpc" if channel.endswith("_ads") else "organic"), channel, **kept)
        return Source(utm["source"], utm["medium"], "", **kept)
    if referrer_host:
        engine = _engine(referrer_host)
        if engine:
            source, channel = _named(engine, False)
            medium = {"google": "organic", "bing": "organic", "facebook": "social"}.get(engine, "referral")
            return Source(source, medium, channel, **kept)
        return Source(f"Referral {referrer_host}", "referral", "", **kept)
    return Source("Direct", "none", "direct", **kept)


def rule_matches(rule_json: str, source: Source, landing_page: str) -> bool:
    """A custom source number's rule (``{"param": utm_source|utm_medium|utm_campaign|referrer_host|landing_param,
    "equals" | "contains": "...", "name": the landing page's parameter for landing_param}``), case-insensitive."""
    try:
        rule = json.loads(rule_json) if rule_json else {}
    except ValueError:
        return False
    if not isinstance(rule, dict):
        return False
    param = rule.get("param")
    values = {
        "utm_source": source.utm_source,
        "utm_medium": source.medium if source.utm_source else "",
        "utm_campaign": source.campaign,
        "referrer_host": source.referrer_host,
    }
    if param == "landing_param":
        value = _params(landing_page).get(str(rule.get("name", "")), "")
    elif param in values:
        value = values[param]
    else:
        return False
    value = value.lower()
    if isinstance(rule.get("equals"), str):
        return value == rule["equals"].lower()
    if isinstance(rule.get("contains"), str) and rule["contains"]:
        return rule["contains"].lower() in value
    return False
