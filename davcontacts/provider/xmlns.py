"""XML namespaces, property names and element builders: the one place for them."""

from __future__ import annotations

from urllib.parse import quote

from lxml import etree

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CS = "http://calendarserver.org/ns/"
NSMAP = {"D": DAV, "C": CARDDAV, "CS": CS}


def dav(name: str) -> str:
    return "{DAV:}" + name


def card(name: str) -> str:
    return "{%s}%s" % (CARDDAV, name)


def cs(name: str) -> str:
    return "{%s}%s" % (CS, name)


# Properties by name (Clark notation).
RESOURCETYPE = dav("resourcetype")
DISPLAYNAME = dav("displayname")
GETETAG = dav("getetag")
GETCONTENTTYPE = dav("getcontenttype")
CURRENT_USER_PRINCIPAL = dav("current-user-principal")
PRINCIPAL_URL = dav("principal-URL")
OWNER = dav("owner")
GROUP_MEMBERSHIP = dav("group-membership")
CUPS = dav("current-user-privilege-set")
SUPPORTED_REPORT_SET = dav("supported-report-set")
SYNC_TOKEN = dav("sync-token")
QUOTA_USED = dav("quota-used-bytes")
QUOTA_AVAILABLE = dav("quota-available-bytes")
PRINCIPAL_COLLECTION_SET = dav("principal-collection-set")
ADDRESSBOOK_HOME_SET = card("addressbook-home-set")
ADDRESSBOOK_DESCRIPTION = card("addressbook-description")
SUPPORTED_ADDRESS_DATA = card("supported-address-data")
MAX_RESOURCE_SIZE = card("max-resource-size")
GETCTAG = cs("getctag")

# Parser for every request body: no entities, no DTD, no network (billion laughs, XXE).
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=False, remove_blank_text=True)


def parse_xml(body: bytes) -> etree._Element:
    """Parse a request body safely; raises etree.XMLSyntaxError on bad XML or a DTD
    that declares entities."""
    root = etree.fromstring(body, parser=SAFE_PARSER)
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.system_url:
        raise etree.XMLSyntaxError("DTDs and entity declarations are not accepted", None, 0, 0)
    return root


def href_quote(path: str) -> str:
    """Percent-encode an absolute path for an href (same safe set as WsgiDAV)."""
    return quote(path, safe="/!*'(),$-_|.~")


def element(name: str, text: str | None = None) -> etree._Element:
    el = etree.Element(name)
    if text is not None:
        el.text = text
    return el


def href_element(name: str, *hrefs: str) -> etree._Element:
    """`<name><D:href>…</D:href>…</name>` with already-quoted hrefs."""
    el = etree.Element(name)
    for h in hrefs:
        etree.SubElement(el, dav("href")).text = h
    return el


def resourcetype(*kinds: str) -> etree._Element:
    el = etree.Element(RESOURCETYPE)
    for k in kinds:
        etree.SubElement(el, k)
    return el


def privilege_set(privileges: tuple[str, ...]) -> etree._Element:
    el = etree.Element(CUPS)
    for p in privileges:
        etree.SubElement(etree.SubElement(el, dav("privilege")), dav(p))
    return el


def supported_address_data() -> etree._Element:
    el = etree.Element(SUPPORTED_ADDRESS_DATA)
    for version in ("3.0", "4.0"):
        etree.SubElement(el, card("address-data-type"),
                         {"content-type": "text/vcard", "version": version})
    return el


def supported_report_set(report_names: list[str]) -> etree._Element:
    el = etree.Element(SUPPORTED_REPORT_SET)
    for name in report_names:
        sr = etree.SubElement(el, dav("supported-report"))
        etree.SubElement(etree.SubElement(sr, dav("report")), name)
    return el
