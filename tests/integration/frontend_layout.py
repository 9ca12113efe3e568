"""What ComfyUI's real frontend draws for a loaded workflow, read from its graph canvas and DOM, and the checks of a
template that reads: every node the user must touch on screen, clear of the minimap and the canvas tool bar, with
its text drawn; no link drawn behind a node; no label or title cut; no node on another or across a group's edge;
previews clear of the minimap; every text of the notes and text boxes on screen at least 12 px.

``LAYOUT_JS`` runs in the page (after ``app.loadGraphData``) and resolves to plain JSON:
- the canvas' scale and offset, whether LiteGraph draws in low quality (no text), the canvas box;
- each node's screen rectangle (title bar included), widget labels, title width, and its DOM widgets (notes, text
  boxes): screen rectangle, whether the browser shows them, and the smallest font of their visible text on screen
  (CSS font size times the zoom transform; for a Markdown note the rendered text, not the textarea behind it);
- the links as DRAWN: the canvas is panned tile by tile over the whole graph at the opening zoom so that LiteGraph
  renders every link (reroute segments included) and keeps its ``Path2D``; each path is stroked on an offscreen
  canvas and the pixels inside every node's rectangle (inset by ``clearance``) are counted. A link's own end nodes
  count too: a link looping behind the node it leaves is behind a node;
- the minimap's and the canvas tool bar's screen rectangles.
The frontend 1.27 objects used: ``app.canvas.ds``, ``app.canvas.draw``, ``app.canvas.low_quality``,
``LiteGraph.NODE_TITLE_HEIGHT``, ``app.graph.links`` / ``reroutes`` (``link.path``, ``reroute.path``,
``parentId``), ``node.widgets[i].element``, ``.minimap-main-container`` and ``.p-buttongroup-vertical``.
"""
from __future__ import annotations

LINK_CLEARANCE_PX = 4.0  # canvas px: a link this close to a node's edge is beside it (borders)
SOCKET_ZONE_PX = 14.0  # canvas px around a link's own sockets (drawn 10 px inside the node's edge) not counted

LAYOUT_JS = r"""
(async () => {
  const canvas = window.app.canvas, ds = canvas.ds, box = canvas.canvas.getBoundingClientRect();
  const title = (window.LiteGraph && LiteGraph.NODE_TITLE_HEIGHT) || 30;
  const clearance = %(clearance)s, socket = %(socket)s;
  const screen = (p) => [box.left + (p[0] + ds.offset[0]) * ds.scale, box.top + (p[1] + ds.offset[1]) * ds.scale];
  const graph = window.app.graph;
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const rectOf = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  // the smallest visible text under an element, in screen px (font size times the CSS zoom transform)
  const textOf = (el) => {
    let zoom = 1;  // the CSS transforms that draw the widget at the canvas' zoom, from the element up
    for (let a = el; a; a = a.parentElement) {
      const t = getComputedStyle(a).transform;
      if (t && t !== "none") { const m = new DOMMatrixReadOnly(t); zoom *= Math.hypot(m.a, m.b); }
    }
    const markdown = el.classList.contains("comfy-markdown") && !el.classList.contains("editing");
    const holders = [];
    if (el.tagName === "TEXTAREA" || (!markdown && el.querySelector("textarea") === null && el.value !== undefined)) {
      if (el.value && el.value.trim()) holders.push(el);
    } else {
      const root = markdown ? el.querySelector(".tiptap") || el : el;
      for (const node of [root, ...root.querySelectorAll("*")]) {
        if (node.tagName === "TEXTAREA") {
          if (node.value && node.value.trim() && !markdown) holders.push(node);
          continue;
        }
        if (Array.from(node.childNodes).some((c) => c.nodeType === 3 && c.textContent.trim())) holders.push(node);
      }
    }
    const sizes = holders.filter((h) => h.checkVisibility())
      .map((h) => parseFloat(getComputedStyle(h).fontSize) * zoom);
    return {font_px: sizes.length ? Math.min(...sizes) : null, text: (el.value || el.textContent || "").slice(0, 40)};
  };
  const ctx = canvas.ctx;
  const nodes = graph._nodes.map((node) => {
    const a = screen([node.pos[0], node.pos[1] - title]);
    const b = screen([node.pos[0] + node.size[0], node.pos[1] + node.size[1]]);
    // widget text as BaseWidget.drawTruncatingText lays it out (font: the canvas' inner_text_font): label left,
    // value right, in the widget's width less margins and arrows; when both do not fit, the label is cut
    ctx.save(); ctx.font = canvas.inner_text_font;
    const room = {number: 85, combo: 85, text: 60, toggle: 75};
    const widgets = (node.widgets || []).filter((w) => w.type !== "hidden" && !w.hidden).map((w) => {
      const label = w.label || w.name;
      const value = w._displayValue !== undefined ? String(w._displayValue) : String(w.value);
      return {name: label, type: w.type, value, label_width: ctx.measureText(label).width,
              value_width: ctx.measureText(value).width,
              room: room[w.type] === undefined ? null : (w.width || node.size[0]) - room[w.type]};
    });
    ctx.font = canvas.title_text_font;
    const title_width = ctx.measureText(node.title || "").width;
    ctx.restore();
    const dom = (node.widgets || []).filter((w) => w.element instanceof HTMLElement).map((w) => ({
      name: w.name, rect: rectOf(w.element), shown: w.element.checkVisibility() && rectOf(w.element)[3] >
      rectOf(w.element)[1], ...textOf(w.element)}));
    return {id: node.id, type: node.type, title: node.title, rect: [a[0], a[1], b[0], b[1]],
            graph_rect: [node.pos[0], node.pos[1] - title, node.pos[0] + node.size[0], node.pos[1] + node.size[1]],
            width: node.size[0], min_height: node.computeSize()[1], title_height: title,
            collapsed: !!(node.flags && node.flags.collapsed), widgets, title_width, dom};
  });
  // every link as drawn: pan over the graph tile by tile at the opening zoom, keep each Path2D
  const all = graph.links instanceof Map ? Array.from(graph.links.values()) : Object.values(graph.links || {});
  const reroutes = graph.reroutes instanceof Map ? graph.reroutes : new Map();
  const xs = [], ys = [];
  for (const n of nodes) { xs.push(n.graph_rect[0], n.graph_rect[2]); ys.push(n.graph_rect[1], n.graph_rect[3]); }
  for (const r of reroutes.values()) { xs.push(r.pos[0]); ys.push(r.pos[1]); }
  const bounds = [Math.min(...xs) - 200, Math.min(...ys) - 200, Math.max(...xs) + 200, Math.max(...ys) + 200];
  const saved = [ds.offset[0], ds.offset[1]];
  const tileW = box.width / ds.scale * 0.8, tileH = box.height / ds.scale * 0.8;
  // twice: the first pass lets every node lay out its sockets (a widget's socket moves to its widget's row when the
  // node is first drawn), the second keeps the paths drawn to the sockets where they stay
  const linkPaths = new Map(), reroutePaths = new Map();
  for (let pass = 0; pass < 2; pass++) {
    for (let y = bounds[1]; y < bounds[3]; y += tileH) {
      for (let x = bounds[0]; x < bounds[2]; x += tileW) {
        ds.offset[0] = -x; ds.offset[1] = -y;
        canvas.draw(true, true);
        if (!pass) continue;
        for (const link of all) if (link && link.path && !linkPaths.has(link.id)) linkPaths.set(link.id, link.path);
        for (const r of reroutes.values()) if (r.path && !reroutePaths.has(r.id)) reroutePaths.set(r.id, r.path);
      }
    }
  }
  ds.offset[0] = saved[0]; ds.offset[1] = saved[1];
  canvas.draw(true, true); await frame(); await frame();
  const k = 0.5, off = document.createElement("canvas");
  off.width = Math.ceil((bounds[2] - bounds[0]) * k); off.height = Math.ceil((bounds[3] - bounds[1]) * k);
  const oc = off.getContext("2d", {willReadFrequently: true});
  const links = [];
  for (const link of all) {
    if (!link) continue;
    const from = graph.getNodeById(link.origin_id), to = graph.getNodeById(link.target_id);
    if (!from || !to) continue;
    const chain = [];
    for (let id = link.parentId; id !== undefined && id !== null && reroutes.get(id); id = reroutes.get(id).parentId) {
      chain.push(id);
    }
    const paths = [linkPaths.get(link.id), ...chain.map((id) => reroutePaths.get(id))];
    const entry = {id: link.id, from: link.origin_id, to: link.target_id, type: link.type, reroutes: chain.length,
                   drawn: paths.every((p) => p), behind: []};
    if (entry.drawn) {
      oc.setTransform(1, 0, 0, 1, 0, 0); oc.clearRect(0, 0, off.width, off.height);
      oc.setTransform(k, 0, 0, k, -bounds[0] * k, -bounds[1] * k);
      oc.lineWidth = 3; oc.strokeStyle = "#fff";
      for (const p of paths) oc.stroke(p);
      // the sockets sit inside their nodes' edges: the link's first and last few px are not behind them
      // the input the link ends at (the frontend adds a socket per widget, so find it by the link it holds);
      // a widget's socket sits at its widget's row
      const slot = (to.inputs || []).findIndex((i) => i.link === link.id);
      const ends = [from.getOutputPos(link.origin_slot), to.getInputPos(slot >= 0 ? slot : link.target_slot)];
      for (const s of ends) {
        oc.clearRect(s[0] - socket, s[1] - socket, 2 * socket, 2 * socket);
      }
      oc.setTransform(1, 0, 0, 1, 0, 0);
      for (const n of nodes) {
        const r = n.graph_rect;
        const x0 = Math.ceil((r[0] + clearance - bounds[0]) * k), y0 = Math.ceil((r[1] + clearance - bounds[1]) * k);
        const x1 = Math.floor((r[2] - clearance - bounds[0]) * k), y1 = Math.floor((r[3] - clearance - bounds[1]) * k);
        if (x1 <= x0 || y1 <= y0) continue;
        const w = x1 - x0, data = oc.getImageData(x0, y0, w, y1 - y0).data;
        let hits = 0, where = [Infinity, Infinity, -Infinity, -Infinity];
        for (let i = 3; i < data.length; i += 4) {
          if (data[i] <= 64) continue;
          hits++;
          const px = ((i - 3) / 4) %% w, py = Math.floor((i - 3) / 4 / w);
          where = [Math.min(where[0], px), Math.min(where[1], py), Math.max(where[2], px), Math.max(where[3], py)];
        }
        if (hits) entry.behind.push({node: n.id, pixels: hits, where: where.map((v, j) =>
          Math.round((j %% 2 ? y0 : x0) / k + v / k + (j %% 2 ? bounds[1] : bounds[0])))});
      }
    }
    links.push(entry);
  }
  const overlay = (selector) => {
    const el = document.querySelector(selector);
    if (!el || !el.checkVisibility()) return null;
    const r = rectOf(el);
    return r[2] > r[0] ? r : null;
  };
  return {scale: ds.scale, offset: [ds.offset[0], ds.offset[1]], low_quality: !!canvas.low_quality,
          canvas: [box.left, box.top, box.right, box.bottom], viewport: [window.innerWidth, window.innerHeight],
          nodes, links, reroutes: Array.from(reroutes.values()).map((r) => ({id: r.id, pos: [r.pos[0], r.pos[1]]})),
          minimap: overlay(".minimap-main-container"), toolbar: overlay(".p-buttongroup-vertical"),
          groups: (graph._groups || graph.groups || []).map((g) => {
            const a = screen([g.pos[0], g.pos[1]]), b = screen([g.pos[0] + g.size[0], g.pos[1] + g.size[1]]);
            ctx.save(); ctx.font = (g.font_size || 24) + "px Arial";
            const titleWidth = ctx.measureText(g.title).width; ctx.restore();
            return {title: g.title, rect: [a[0], a[1], b[0], b[1]], width: g.size[0], title_width: titleWidth};
          })};
})()
""" % {"clearance": LINK_CLEARANCE_PX, "socket": SOCKET_ZONE_PX}

# Top of the canvas the frontend's own bars cover at 1600x1000 (menu bar and the workflow tabs); left: the side bar
# of icons (and a margin).
TOP_BARS_PX = 80
LEFT_BAR_PX = 50
TEXT_MIN_PX = 12.0  # the smallest text of a note or text box on screen
LABEL_VALUE_GAP_PX = 5.0  # BaseWidget.labelValueGap
PREVIEW_TEXT_PX = 40.0  # canvas px of the status line above a preview ("600 frames joined from 3 chunks": 28 measured)


def _inside(rect, area) -> bool:
    return rect[0] >= area[0] and rect[1] >= area[1] and rect[2] <= area[2] and rect[3] <= area[3]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_problems(layout: dict, must_touch: tuple[str, ...], previews: tuple[str, ...] = ()) -> list[str]:
    """What a user would trip over in ``layout`` (LAYOUT_JS's answer):
    - nodes titled ``must_touch``: missing, collapsed, not wholly on screen (below the top bars, right of the side
      bar, inside the window), under the minimap or the canvas tool bar, or with a DOM widget (note, text box) not
      shown inside the node; the canvas drawing in low quality (no text);
    - nodes titled ``previews`` under the minimap or the tool bar, with the room their video takes after a render;
    - any link drawn through a node's rectangle (its own end nodes included), or not drawn at all;
    - two nodes on top of each other; widget labels or titles wider than their node;
    - text of a note or text box on screen smaller than TEXT_MIN_PX."""
    problems = []
    width, height = layout["viewport"]
    screen = (LEFT_BAR_PX, TOP_BARS_PX, width, height)
    overlays = {"the minimap": layout.get("minimap"), "the canvas tool bar": layout.get("toolbar")}
    if layout["low_quality"]:
        problems.append(f"the canvas draws in low quality (no text) at scale {layout['scale']:.2f}")
    by_title = {node["title"]: node for node in layout["nodes"]}
    names = {node["id"]: node["title"] for node in layout["nodes"]}
    for name in must_touch:
        node = by_title.get(name)
        if node is None:
            problems.append(f"no node titled {name!r}")
            continue
        if node["collapsed"]:
            problems.append(f"{name!r} is collapsed")
        if not _inside(node["rect"], screen):
            problems.append(f"{name!r} is not wholly on screen: {[round(v) for v in node['rect']]}")
        for what, rect in overlays.items():
            if rect and _overlap(node["rect"], rect):
                problems.append(f"{name!r} lies under {what}")
        for widget in node["dom"]:
            if not widget["shown"] or not _inside(widget["rect"], [v + d for v, d in zip(node["rect"],
                                                                                          (-2, -2, 2, 2))]):
                problems.append(f"{name!r}: its {widget['name']!r} box is not shown inside the node")
    for name in previews:
        node = by_title.get(name)
        if node is None:
            continue
        # after a render the node holds its widgets, a status line and the video (as wide as the node; square)
        rect, scale = node["rect"], layout["scale"]
        after = node["title_height"] + node["min_height"] + PREVIEW_TEXT_PX + node["width"]
        grown = [rect[0], rect[1], rect[2], max(rect[3], rect[1] + after * scale)]
        for what, overlay in overlays.items():
            if overlay and _overlap(grown, overlay):
                problems.append(f"{name!r} (a preview) lies under {what} once it shows the video: "
                                f"{[round(v) for v in grown]}")
    for link in layout["links"]:
        if not link["drawn"]:
            problems.append(f"the {link['type']} link {names[link['from']]!r} -> {names[link['to']]!r} is not drawn")
        for hit in link["behind"]:
            problems.append(f"the {link['type']} link {names[link['from']]!r} -> {names[link['to']]!r} passes "
                            f"behind {names[hit['node']]!r} ({hit['pixels']} px in {hit['where']})")
    nodes = layout["nodes"]
    for group in layout.get("groups", []):
        if group.get("title_width", 0) > group.get("width", 1e9) - 20:  # canvas px, the title's padding aside
            problems.append(f"the group title {group['title']!r} is cut ({group['title_width']:.0f} px of text in "
                            f"{group['width']:.0f})")
    for group in layout.get("groups", []):  # a node is in its group or outside it, never across its edge
        for node in nodes:
            if _overlap(node["rect"], group["rect"]) and not _inside(node["rect"], group["rect"]):
                problems.append(f"{node['title']!r} sticks out of the group {group['title']!r}")
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if _overlap(a["rect"], b["rect"]):
                problems.append(f"{a['title']!r} and {b['title']!r} overlap")
    for node in nodes:
        if node["title_width"] > node["width"] - 40:
            problems.append(f"{node['title']!r}: the title ({node['title_width']:.0f} px) is cut in a "
                            f"{node['width']:.0f} px node")
        for widget in node["widgets"]:
            needed = widget["label_width"] + LABEL_VALUE_GAP_PX + widget["value_width"]
            if widget["room"] is not None and needed > widget["room"]:
                problems.append(f"{node['title']!r}: the label or value of {widget['name']!r} "
                                f"({widget['value'][:30]!r}) is cut ({needed:.0f} px of text in {widget['room']:.0f})")
        for widget in node["dom"]:
            on_screen = widget["shown"] and _overlap(widget["rect"], screen)
            if on_screen and widget["font_px"] is not None and widget["font_px"] < TEXT_MIN_PX:
                problems.append(f"{node['title']!r}: text {widget['text']!r} is {widget['font_px']:.1f} px on screen")
    return problems
