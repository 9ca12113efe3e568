"""What ComfyUI's real frontend draws for a loaded workflow, read from its graph canvas, and the checks of a
template that reads: every node the user must touch on screen with its text drawn, no link behind a node, no
label cut, previews clear of the minimap, note text large enough.

``LAYOUT_JS`` runs in the page (after ``app.loadGraphData``) and returns plain JSON: the canvas' scale and
offset, whether LiteGraph draws in low quality (no text), each node's screen rectangle (title bar included) and
widget labels, each link's two end points on screen, the minimap's rectangle and the note text's size on screen.
The frontend 1.27 objects used: ``app.canvas.ds`` (scale, offset), ``app.canvas.low_quality``,
``LiteGraph.NODE_TITLE_HEIGHT``, ``node.getInputPos(slot)`` / ``node.getOutputPos(slot)``, ``app.graph.links``, the
``.minimap-main-container`` element and the note's DOM textarea.
"""
from __future__ import annotations

LAYOUT_JS = r"""
(() => {
  const canvas = window.app.canvas, ds = canvas.ds, box = canvas.canvas.getBoundingClientRect();
  const title = (window.LiteGraph && LiteGraph.NODE_TITLE_HEIGHT) || 30;
  const screen = (p) => [box.left + (p[0] + ds.offset[0]) * ds.scale, box.top + (p[1] + ds.offset[1]) * ds.scale];
  const graph = window.app.graph;
  const nodes = graph._nodes.map((node) => {
    const a = screen([node.pos[0], node.pos[1] - title]);
    const b = screen([node.pos[0] + node.size[0], node.pos[1] + node.size[1]]);
    const ctx = canvas.ctx;
    ctx.save(); ctx.font = (window.LiteGraph && LiteGraph.NODE_TEXT_SIZE || 14) + "px Arial";
    const widgets = (node.widgets || []).filter((w) => w.type !== "hidden" && !w.hidden).map((w) => ({
      name: w.label || w.name, type: w.type, value: typeof w.value === "string" ? w.value : String(w.value),
      text_width: ctx.measureText((w.label || w.name) + "  " + String(w.value)).width}));
    ctx.restore();
    return {id: node.id, type: node.type, title: node.title, rect: [a[0], a[1], b[0], b[1]],
            width: node.size[0], collapsed: !!(node.flags && node.flags.collapsed), widgets,
            title_width: canvas.ctx.measureText(node.title).width};
  });
  const links = [];
  const all = graph.links instanceof Map ? Array.from(graph.links.values()) : Object.values(graph.links || {});
  for (const link of all) {
    if (!link) continue;
    const from = graph.getNodeById(link.origin_id), to = graph.getNodeById(link.target_id);
    if (!from || !to) continue;
    links.push({from: link.origin_id, to: link.target_id, type: link.type,
                a: screen(from.getOutputPos(link.origin_slot)), b: screen(to.getInputPos(link.target_slot))});
  }
  const mini = document.querySelector(".minimap-main-container");
  const m = mini ? mini.getBoundingClientRect() : null;
  const notes = Array.from(document.querySelectorAll("textarea")).filter((t) => t.offsetHeight > 0).map((t) => {
    const r = t.getBoundingClientRect();
    return {font_px: parseFloat(getComputedStyle(t).fontSize) * r.height / t.offsetHeight,
            rect: [r.left, r.top, r.right, r.bottom], text: t.value.slice(0, 40)};
  });
  return {scale: ds.scale, offset: ds.offset, low_quality: !!canvas.low_quality, canvas: [box.left, box.top,
          box.right, box.bottom], viewport: [window.innerWidth, window.innerHeight], nodes, links,
          minimap: m && m.width > 0 ? [m.left, m.top, m.right, m.bottom] : null, notes};
})()
"""

# Top of the canvas the frontend's own bars cover at 1600x1000 (menu bar and the workflow tabs), bottom: the
# graph canvas' own tool bar; left: the side bar of icons.
TOP_BARS_PX = 80
LEFT_BAR_PX = 50
NOTE_TEXT_MIN_PX = 12.0
LINK_CLEARANCE_PX = 4.0  # a link this close to a node's edge is beside it, not behind it (socket dots, borders)


def _inside(rect, area) -> bool:
    return rect[0] >= area[0] and rect[1] >= area[1] and rect[2] <= area[2] and rect[3] <= area[3]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _spline(a, b, steps: int = 48):
    """Points of LiteGraph's link spline from output ``a`` to input ``b`` (control points a quarter of the
    distance out, horizontally, as LGraphCanvas.renderLink draws LINK_RENDER_MODE spline)."""
    distance = ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 * 0.25
    c1, c2 = (a[0] + distance, a[1]), (b[0] - distance, b[1])
    points = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        points.append((u ** 3 * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * b[0],
                       u ** 3 * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * b[1]))
    return points


def layout_problems(layout: dict, must_touch: tuple[str, ...], previews: tuple[str, ...] = ()) -> list[str]:
    """What a user would trip over in ``layout`` (LAYOUT_JS's answer): nodes titled ``must_touch`` not wholly on
    screen (below the top bars, right of the side bar, inside the window) or drawn without text; links crossing a
    third node's rectangle; widget labels wider than their node; nodes titled ``previews`` under the minimap; note
    text under NOTE_TEXT_MIN_PX."""
    problems = []
    width, height = layout["viewport"]
    screen = (LEFT_BAR_PX, TOP_BARS_PX, width, height)
    if layout["low_quality"]:
        problems.append(f"the canvas draws in low quality (no text) at scale {layout['scale']:.2f}")
    by_title = {node["title"]: node for node in layout["nodes"]}
    for name in must_touch:
        node = by_title.get(name)
        if node is None:
            problems.append(f"no node titled {name!r}")
        elif not _inside(node["rect"], screen):
            problems.append(f"{name!r} is not wholly on screen: {[round(v) for v in node['rect']]}")
    for link in layout["links"]:
        for point in _spline(link["a"], link["b"])[2:-2]:
            inset = LINK_CLEARANCE_PX
            hit = [node for node in layout["nodes"] if node["id"] not in (link["from"], link["to"])
                   and node["rect"][0] + inset < point[0] < node["rect"][2] - inset
                   and node["rect"][1] + inset < point[1] < node["rect"][3] - inset]
            if hit:
                names = {node["id"]: node["title"] for node in layout["nodes"]}
                problems.append(f"the {link['type']} link {names[link['from']]!r} -> {names[link['to']]!r} passes "
                                f"behind {hit[0]['title']!r}")
                break
    for node in layout["nodes"]:
        for widget in node["widgets"]:
            if widget["type"] in ("combo", "number", "toggle", "text") and widget["text_width"] > node["width"] - 30:
                problems.append(f"{node['title']!r}: the label of {widget['name']!r} ({widget['value'][:30]!r}) "
                                f"is cut ({widget['text_width']:.0f} px of text in a {node['width']:.0f} px node)")
    if layout["minimap"]:
        for name in previews:
            node = by_title.get(name)
            if node is not None and _overlap(node["rect"], layout["minimap"]):
                problems.append(f"{name!r} (a preview) lies under the minimap")
    for note in layout["notes"]:
        if _inside(note["rect"], screen) and note["font_px"] < NOTE_TEXT_MIN_PX:
            problems.append(f"note text {note['text']!r} is {note['font_px']:.1f} px on screen")
    return problems
