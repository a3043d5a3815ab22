"""A plain HTML view of any JSON document the API returns (``f=html`` or a browser).

One generic renderer rather than a template per page: title, description, links, then
the body shaped by what the document holds (collections, features, a feature).
"""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
    "text-align:left;vertical-align:top}"
)


def _cell(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return f'<a href="{escape(value)}">{escape(value)}</a>'
    if isinstance(value, dict | list):
        return escape(orjson.dumps(value).decode())
    return "" if value is None else escape(str(value))


def _table(rows: list[dict[str, Any]], first: str | None = None) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _links(links: list[dict[str, Any]]) -> str:
    items = "".join(
        f'<li>{escape(item.get("rel", ""))}: <a href="{escape(item["href"])}">'
        f"{escape(item.get('title') or item['href'])}</a> ({escape(item.get('type', ''))})</li>"
        for item in links
        if not item.get("templated")
    )
    return f"<ul>{items}</ul>"


def _body(doc: dict[str, Any]) -> str:
    if "collections" in doc:
        cells = [
            (
                f'<a href="{escape(c["links"][0]["href"])}?f=html">{escape(c["id"])}</a>',
                escape(c.get("title", "")),
                escape(c.get("description", "")),
            )
            for c in doc["collections"]
        ]
        head = "<tr><th>id</th><th>title</th><th>description</th></tr>"
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in cells)
        return f"<table>{head}{body}</table>"
    if doc.get("type") == "FeatureCollection":
        counts = f"<p>{doc.get('numberReturned')} of {doc.get('numberMatched')} features</p>"
        rows = [{"id": f.get("id"), **f.get("properties", {})} for f in doc["features"]]
        return counts + _table(rows)
    if doc.get("type") == "Feature":
        props = {"id": doc.get("id"), **doc.get("properties", {})}
        return _table([{"property": k, "value": v} for k, v in props.items()])
    if "conformsTo" in doc:
        return "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in doc["conformsTo"]) + "</ul>"
    rest = {k: v for k, v in doc.items() if k not in ("title", "description", "links")}
    return f"<pre>{escape(orjson.dumps(rest, option=orjson.OPT_INDENT_2).decode())}</pre>"


def render(doc: dict[str, Any], title: str) -> str:
    description = escape(doc.get("description", ""))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1><p>{description}</p>"
        f"{_links(doc.get('links', []))}{_body(doc)}</body></html>"
    )
