"""The URL policy at the edge (DESIGN section 7): a Start whose RecordURL, CallbackURL,
Callback, videoSrc or LiveOutputs Url resolves to a loopback, private, link-local or
metadata address is refused at once with InvalidParam, instead of failing later in a worker.

No DNS here: IP literals and localhost names are checked at once; other names are checked
by the worker right before it connects (DNS answers change, redirects happen), so a slow
resolver never stalls a Start.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from config.settings import Settings
from workers.common.domain import urlpolicy
from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.panorama import LIVE_SCHEMES

URL_FIELDS = ("RecordURL", "CallbackURL", "Callback", "videoSrc")
LIVE = frozenset(LIVE_SCHEMES)


def check_urls(spec: Spec, settings: Settings) -> None:
    for name in URL_FIELDS:
        url = getattr(spec, name, None)
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in urlpolicy.MEDIA:
            continue  # absent, a pusher path in the media directory, or s3:// (farm's own)
        schemes = urlpolicy.MEDIA if name == "videoSrc" else urlpolicy.WEB
        try:
            urlpolicy.check(url, settings.url_allowlist, schemes, resolve_names=False)
        except urlpolicy.UrlRefused as exc:
            raise InvalidParam(f"{name} {exc}") from None
    for index, url in enumerate(getattr(spec, "live_urls", ())):  # panorama's LiveOutputs
        try:
            urlpolicy.check(url, settings.url_allowlist, LIVE, resolve_names=False)
        except urlpolicy.UrlRefused as exc:
            raise InvalidParam(f"LiveOutputs[{index}].Url {exc}") from None
