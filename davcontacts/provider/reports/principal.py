"""Reports clients send during discovery: expand-property (RFC 3253 §3.8) and the
principal searches of RFC 3744 §9.4–9.5. A user can only ever find themselves."""

from __future__ import annotations

from lxml import etree
from wsgidav.dav_error import DAVError

from .. import xmlns
from ..base import context
from ..multistatus import Multistatus, status_line
from ..propfind import render_resource
from ..tree import Principal, PrincipalsCollection, Root
from . import href_to_path, register


def _property_name(el: etree._Element) -> str:
    return "{%s}%s" % (el.get("namespace", "DAV:") or "DAV:", el.get("name", ""))


def _expanded_response(res, wanted: list[etree._Element], environ: dict,
                       depth: int) -> etree._Element:
    """A <D:response> for `res` with the properties in `wanted`; properties whose
    <property> element has children have their hrefs replaced by nested responses."""
    provider = res.provider
    mount = context(environ).mount
    response = etree.Element(xmlns.dav("response"))
    etree.SubElement(response, xmlns.dav("href")).text = res.get_href()
    found = etree.Element(xmlns.dav("prop"))
    missing = etree.Element(xmlns.dav("prop"))
    for spec in wanted:
        name = _property_name(spec)
        try:
            value = res.get_property_value(name)
        except DAVError:
            etree.SubElement(missing, name)
            continue
        if isinstance(value, str) or value is None:
            el = etree.SubElement(found, name)
            el.text = value or None
            continue
        nested = list(spec.iterfind(xmlns.dav("property")))
        if not nested or depth > 3:
            found.append(value)
            continue
        el = etree.SubElement(found, name)
        for href in value.iterfind(xmlns.dav("href")):
            path = href_to_path(href.text or "", mount)
            target = provider.get_resource_inst(path, environ) if path else None
            if target is None:
                missing_resp = etree.SubElement(el, xmlns.dav("response"))
                etree.SubElement(missing_resp, xmlns.dav("href")).text = href.text
                etree.SubElement(missing_resp, xmlns.dav("status")).text = status_line(404)
            else:
                el.append(_expanded_response(target, nested, environ, depth + 1))
    for prop, code in ((found, 200), (missing, 404)):
        if len(prop):
            ps = etree.SubElement(response, xmlns.dav("propstat"))
            ps.append(prop)
            etree.SubElement(ps, xmlns.dav("status")).text = status_line(code)
    return response


@register(xmlns.dav("expand-property"), Principal, Root, PrincipalsCollection)
def expand_property(res, root, environ):
    wanted = list(root.iterfind(xmlns.dav("property")))
    ms = etree.Element(xmlns.dav("multistatus"), nsmap={"D": xmlns.DAV})
    ms.append(_expanded_response(res, wanted, environ, 0))
    return "207 Multi-Status", etree.tostring(ms, xml_declaration=True, encoding="utf-8")


def _matches(user, searches: list[tuple[list[str], str]], test: str) -> bool:
    """Does the current user's principal match the property-search elements?"""
    values = {xmlns.DISPLAYNAME: user.display_name or user.username,
              xmlns.dav("principal-URL"): user.username}
    results = []
    for names, text in searches:
        needle = text.casefold()
        results.append(any(needle in values.get(n, "").casefold() for n in names))
    if not results:
        return False
    return all(results) if test == "allof" else any(results)


@register(xmlns.dav("principal-property-search"), PrincipalsCollection, Principal, Root)
def principal_property_search(res, root, environ):
    ctx = context(environ)
    searches = []
    for ps in root.iterfind(xmlns.dav("property-search")):
        names = [el.tag for el in ps.iterfind(f"{xmlns.dav('prop')}/*")]
        searches.append((names, ps.findtext(xmlns.dav("match")) or ""))
    out = Multistatus()
    if _matches(ctx.user, searches, root.get("test", "allof")):
        principal = res.provider.get_resource_inst(ctx.principal_path, environ)
        prop = root.find(xmlns.dav("prop"))
        names = [el.tag for el in prop] if prop is not None else [xmlns.DISPLAYNAME]
        found, forbidden, missing = render_resource(principal, names)
        out.response(principal.get_href(), found, missing, forbidden)
    return "207 Multi-Status", out.finish()


@register(xmlns.dav("principal-search-property-set"), PrincipalsCollection, Principal, Root)
def principal_search_property_set(res, root, environ):
    if len(root):
        raise DAVError(400, "principal-search-property-set takes an empty body")
    body = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<D:principal-search-property-set xmlns:D="DAV:"><D:principal-search-property>'
            '<D:prop><D:displayname/></D:prop>'
            '<D:description xml:lang="en">Display name</D:description>'
            '</D:principal-search-property></D:principal-search-property-set>')
    return "200 OK", body.encode("utf-8")
