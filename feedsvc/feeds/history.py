"""RFC 5005 §4 archived-feed markup: the paging links and fh:archive, in a feed's head."""

from __future__ import annotations

from lxml import etree

from .model import ArchiveLinks

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"


def _links(links: ArchiveLinks) -> list[tuple[str, str]]:
    # RFC 5005 §4: an archive document links its subscription document (current) and its
    # neighbours; the subscription document links the newest archive page (prev-archive).
    pairs = [
        ("current", links.current),
        ("prev-archive", links.prev_archive),
        ("next-archive", links.next_archive),
    ]
    return [(rel, href) for rel, href in pairs if href]


def add_archive(
    parent: etree._Element, entry_tag: str, links: ArchiveLinks | None, media_type: str
) -> None:
    """Put the links (and fh:archive on an archive page) in parent, before its first entry.

    parent is atom:feed (whose elements feedgen leaves without a namespace) or RSS <channel>,
    where they are atom:link elements, as RSS Best Practices writes rel="self". The entries
    stay last, as feeds.fragments.split_xml requires.
    """
    if links is None:
        return
    first = parent.find(entry_tag)
    position = len(parent) if first is None else parent.index(first)
    in_atom = parent.tag in ("feed", f"{{{ATOM_NS}}}feed")
    link_tag = "link" if in_atom else f"{{{ATOM_NS}}}link"
    # SubElement, then moved: a link takes the prefix the parent already declares (atom: in
    # RSS); fh:archive declares its own namespace. Nothing is declared on the root, whose
    # bytes must not depend on which entries this render produced (feeds.fragments).
    added: list[etree._Element] = []
    if links.is_archive:
        # §4: "Archive documents ... MUST contain an fh:archive element".
        added.append(etree.SubElement(parent, f"{{{FH_NS}}}archive", nsmap={"fh": FH_NS}))
    for rel, href in _links(links):
        link = etree.SubElement(parent, link_tag)
        link.set("rel", rel)
        link.set("type", media_type)
        link.set("href", href)
        added.append(link)
    for offset, element in enumerate(added):
        parent.insert(position + offset, element)
