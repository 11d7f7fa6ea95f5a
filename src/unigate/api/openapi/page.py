"""``GET /docs``: the API reference, a self-contained page that renders ``/openapi.json`` in the
browser (no CDN, no framework: the gateway may run where there is no internet)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["docs_page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>unigate API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d232a}
nav{width:17rem;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f6f8;padding:1rem;box-sizing:border-box}
nav a{display:block;color:#1d232a;text-decoration:none;font-size:13px;padding:1px 0}
nav h3{margin:.8rem 0 .2rem;font-size:12px;text-transform:uppercase;color:#667}
main{flex:1;padding:1rem 2rem;max-width:60rem}
section{border-top:1px solid #dde;padding:.6rem 0}
.m{display:inline-block;width:4.2rem;font:bold 12px monospace;color:#fff;border-radius:3px;text-align:center}
.get{background:#2f7d4f}.post{background:#2d5fa8}.delete{background:#b03a2e}.patch{background:#9a6a00}
code{font-size:13px}pre{background:#f4f6f8;padding:.5rem;overflow:auto;font-size:12px;max-height:24rem}
details{margin:.3rem 0}table{border-collapse:collapse;font-size:13px}td{padding:2px 8px;vertical-align:top}
</style></head><body><nav id="nav"><b>unigate</b></nav><main id="main"><p>Loading /openapi.json…</p></main>
<script>
"use strict";
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  for (const k of kids) e.append(k);
  return e;
};
function resolve(doc, schema, depth) {
  if (depth > 6 || schema === null || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map(s => resolve(doc, s, depth + 1));
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return depth > 3 ? {$ref: name} : resolve(doc, doc.components.schemas[name], depth + 1);
  }
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = resolve(doc, v, depth + 1);
  return out;
}
function schemaBlock(doc, title, content) {
  const d = el("details", {}, el("summary", {textContent: title}));
  for (const [type, media] of Object.entries(content || {})) {
    d.append(el("div", {}, el("code", {textContent: type})));
    d.append(el("pre", {textContent: JSON.stringify(resolve(doc, media.schema, 0), null, 1)}));
  }
  return d;
}
function render(doc) {
  const nav = document.getElementById("nav"), main = document.getElementById("main");
  main.replaceChildren(el("h1", {textContent: doc.info.title + " API " + doc.info.version}),
                       el("p", {textContent: doc.info.description}));
  const byTag = {};
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) (byTag[op.tags[0]] ||= []).push([path, method, op]);
  for (const [tag, ops] of Object.entries(byTag)) {
    nav.append(el("h3", {textContent: tag}));
    main.append(el("h2", {textContent: tag, id: "tag-" + tag}));
    for (const [path, method, op] of ops) {
      nav.append(el("a", {href: "#" + op.operationId, textContent: method.toUpperCase() + " " + path}));
      const s = el("section", {id: op.operationId},
        el("span", {className: "m " + method, textContent: method.toUpperCase()}), " ",
        el("code", {textContent: path}), el("div", {textContent: op.summary}));
      if (op.description) s.append(el("p", {textContent: op.description}));
      if (op.security && op.security.length === 0) s.append(el("div", {textContent: "No key needed."}));
      if (op.parameters.length) {
        const t = el("table");
        for (const p of op.parameters)
          t.append(el("tr", {}, el("td", {}, el("code", {textContent: p.name})), el("td", {textContent: p.in}),
                               el("td", {textContent: p.description || ""})));
        s.append(t);
      }
      if (op.requestBody) s.append(schemaBlock(doc, "Request body", op.requestBody.content));
      for (const [status, r] of Object.entries(op.responses))
        s.append(schemaBlock(doc, status + ": " + r.description, r.content));
      main.append(s);
    }
  }
}
fetch("openapi.json").then(r => r.json()).then(render).catch(e => {
  document.getElementById("main").textContent = "Could not load openapi.json: " + e;
});
</script></body></html>
"""


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")
