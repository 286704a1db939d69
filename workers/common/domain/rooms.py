"""The room backend: where a user's stream is pulled from and where a room is pushed to.

A room is reached through a media server by URL (DESIGN section 6). The URLs come from
templates in Settings (``pull_template`` / ``push_template``: a preset per ``room_backend``,
or explicit ``room_pull_template`` / ``room_push_template``), with the placeholders
``{SdkAppId} {Room} {UserId} {UserSig} {CdnDomain}``. Switching backends is configuration.

``{Room}`` is the RoomId, or the StrRoomId when there is no RoomId (see ``room_of``).
Every value is percent-encoded (a StrRoomId may hold spaces, '#', '&', '?'), so it can sit
in a path segment or a query value alike; ``{CdnDomain}`` is a host name and is not encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from config.settings import Settings
from workers.common.domain import redaction
from workers.common.domain.redaction import HIDDEN

PLACEHOLDERS = ("SdkAppId", "Room", "UserId", "UserSig", "CdnDomain")
_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)\}")
# Query parameters and userinfo that carry a credential.
_SECRET_QUERY = re.compile(r"(?i)([?&](?:usersig|sig|token|secret|password)=)[^&#\s:]*")
_USERINFO = re.compile(r"^([a-z][a-z0-9+.\-]*://[^/@:]*):[^/@]*@", re.IGNORECASE)


@dataclass(frozen=True)
class RoomUser:
    """One user of one room, as the room backend addresses them."""

    sdk_app_id: int
    room: str
    user_id: str
    user_sig: str = ""


def room_of(room_id: int | None, str_room_id: str | None) -> str:
    """The seeds' rule: RoomId when given, else StrRoomId."""
    if room_id is not None:
        return str(room_id)
    if str_room_id:
        return str_room_id
    raise ValueError("either RoomId or StrRoomId is needed")


def pull_url(
    settings: Settings, sdk_app_id: int, room: str | int, user_id: str, user_sig: str = ""
) -> str:
    """The URL to pull ``user_id``'s stream from, in ``room``."""
    return render(
        settings.pull_template, settings, RoomUser(sdk_app_id, str(room), user_id, user_sig)
    )


def push_url(
    settings: Settings, sdk_app_id: int, room: str | int, user_id: str, user_sig: str = ""
) -> str:
    """The URL to publish into ``room`` as ``user_id``."""
    return render(
        settings.push_template, settings, RoomUser(sdk_app_id, str(room), user_id, user_sig)
    )


def render(template: str, settings: Settings, user: RoomUser) -> str:
    """``template`` with its placeholders filled in; an unknown one is a configuration error."""
    values = {
        "SdkAppId": _encode(str(user.sdk_app_id)),
        "Room": _encode(user.room),
        "UserId": _encode(user.user_id),
        "UserSig": _encode(user.user_sig),
        "CdnDomain": settings.trtc_cdn_domain,
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(
                f"room URL template {redact(template)!r} has an unknown placeholder {{{name}}}; "
                f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        return values[name]

    return _PLACEHOLDER.sub(fill, template)


def redact(url: str, *secrets: str) -> str:
    """``url`` fit for a log line: usersig (and similar) query values, a userinfo password,
    and any of ``secrets`` (raw or percent-encoded) replaced by ``***``."""
    url = _SECRET_QUERY.sub(lambda m: m.group(1) + HIDDEN, url)
    url = _USERINFO.sub(lambda m: m.group(1) + ":" + HIDDEN + "@", url)
    return redaction.hide(url, secrets)


def _encode(value: str) -> str:
    return quote(value, safe="")
