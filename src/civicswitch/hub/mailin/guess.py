"""What a resident's mail is about and where: the service it names, and a place (an address line or a point).

The service: one whose name (as written or in any of its languages) or one of whose keywords is written in the
subject or the text, as whole words, folded as the report form's search folds them (``requests/reporting.py``
``folded``: no case, no accents). The report form's ``matching`` wants every typed word in one service's texts
(a search box); a letter holds many other words, so here each service's own phrases are looked for in the letter
instead, and only when exactly one service is named is it taken.

The place: a line such as ``Address: 100 Main St`` (or Location, Where, Dirección, Ubicación, Lugar), a line that
starts with a house number and a street word (``100 Main Street``), or a point: ``40.7128, -74.0060``, a ``geo:``
URI, or a map link (OpenStreetMap ``mlat=…&mlon=…``, ``@lat,long`` or ``q=lat,long``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from civicswitch.catalog.model import Service
from civicswitch.requests.reporting import folded

_LABEL = re.compile(
    r"^\s*(address|location|where|place|street|direcci[oó]n|ubicaci[oó]n|lugar|calle|d[oó]nde)\s*[:\-]\s*(?P<v>\S.{2,300})$",
    re.IGNORECASE | re.MULTILINE,
)
_STREET = re.compile(
    r"^\s*(?P<v>\d{1,6}[a-z]?\s+(?:[\w.'-]+\s+){0,5}?(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|"
    r"way|pl|place|ct|court|pkwy|parkway|hwy|highway|ter|terrace|sq|square|cir|circle|calle|avenida|av)\b\.?"
    r"(?:[ ,].{0,120})?)$",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = r"[-+]?\d{1,3}\.\d{3,10}"
_POINTS = (
    re.compile(rf"mlat=(?P<lat>{_NUMBER})&(?:amp;)?mlon=(?P<long>{_NUMBER})"),
    re.compile(rf"geo:(?P<lat>{_NUMBER}),(?P<long>{_NUMBER})"),
    re.compile(rf"@(?P<lat>{_NUMBER}),(?P<long>{_NUMBER})"),
    re.compile(rf"[?&](?:q|ll|query)=(?P<lat>{_NUMBER})(?:,|%2C)\s*(?P<long>{_NUMBER})", re.IGNORECASE),
    re.compile(rf"(?<![\w.])(?P<lat>{_NUMBER})\s*[,;/ ]\s*(?P<long>{_NUMBER})(?![\w.])"),
)


@dataclass(frozen=True, slots=True)
class Place:
    address: str | None = None
    lat: str | None = None
    long: str | None = None

    @property
    def found(self) -> bool:
        return self.address is not None or self.lat is not None


def find_place(text: str) -> Place:
    """The first point, and the first address line, the text gives (either may be missing)."""
    lat = long = None
    for pattern in _POINTS:
        for match in pattern.finditer(text):
            a, b = float(match["lat"]), float(match["long"])
            if -90 <= a <= 90 and -180 <= b <= 180:
                lat, long = match["lat"].lstrip("+"), match["long"].lstrip("+")
                break
        if lat is not None:
            break
    address = None
    for pattern in (_LABEL, _STREET):
        line = pattern.search(text)
        if line:
            address = " ".join(line["v"].split()).rstrip(".,;")[:500] or None
            break
    return Place(address, lat, long)


def _phrases(service: Service) -> set[str]:
    texts = [service.name, *service.keywords, *(t for _, f, t in service.translations if f == "name")]
    return {" ".join(re.split(r"\W+", folded(t))).strip() for t in texts if t.strip()} - {""}


def named_services(services: Iterable[Service], subject: str, text: str) -> list[Service]:
    """The active services the letter names (see the module's docstring), in catalog order."""
    words = " " + " ".join(w for w in re.split(r"\W+", folded(f"{subject}\n{text}")) if w) + " "
    found = []
    for service in services:
        if not service.active:
            continue
        for phrase in _phrases(service):
            # a whole-word phrase, or its plural (pothole → potholes, bache → baches)
            if any(f" {phrase}{end} " in words for end in ("", "s", "es")):
                found.append(service)
                break
    return found
