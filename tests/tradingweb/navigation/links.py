"""Reading the links of a rendered page: which <a> elements carry a data attribute, and where they go."""

from html.parser import HTMLParser


class _AnchorCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.anchors.append({name: value or "" for name, value in attrs})  # values arrive unescaped


def hrefs_with(html: str, attribute: str) -> list[str]:
    """The href of every <a> carrying `attribute` (e.g. "data-run-strategy"), in page order."""
    collector = _AnchorCollector()
    collector.feed(html)
    return [anchor["href"] for anchor in collector.anchors if attribute in anchor]
