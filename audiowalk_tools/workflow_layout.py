"""How the shipped templates are laid out for the first screen (checked in the real frontend by
tests/integration/test_first_meeting.py at 1600x1000).

ComfyUI frontend 1.27 opens a template at the view saved in ``extra.ds`` (``app.loadGraphData`` sets
``canvas.ds.scale`` and ``offset`` when "Comfy.EnableWorkflowViewRestore" is on, the default) and draws notes and
text boxes at 10 px ("Comfy.TextareaWidget.FontSize") times the zoom, so their text is 12 px on screen from zoom
1.2 on. At 1.2 a 1600x1000 window shows about 1,275 x 750 canvas px of graph below the menu and the workflow tabs,
less the minimap and the canvas tool bar in the bottom-right corner.

So every template opens at 1.2 on its DECK: the Read me and the nodes a user must touch, in a region of that size
whose top-left is the canvas origin. The nodes only the music needs (features, walk, the plumbing) sit in the
ENGINE ROOM below the deck; links that come back up run in lanes (LiteGraph reroutes) along the corridor between
deck and engine room and up the gaps between columns, never behind a node.
"""
from __future__ import annotations

from .workflow_tools import GraphGroup

OPENING_SCALE = 1.2
# the canvas origin sits at (55, 85) on screen: the canvas element starts at (40, 40) under the side bar and the
# menu bar, the workflow tabs cover the next 40 px
OPENING_VIEW = {"ds": {"scale": OPENING_SCALE, "offset": [15 / OPENING_SCALE, 45 / OPENING_SCALE]}}
DECK_WIDTH, DECK_HEIGHT = 1275, 750  # canvas px of the first screen that hold the nodes a user must touch
DECK_CORNER = (1015, 535)  # right of and below this the minimap and the canvas tool bar cover the canvas
ENGINE_TOP = 780  # the engine room's groups start here; the corridor above it carries the lanes
NODE_TITLE = 30  # LiteGraph's title bar above a node's position
# Save Music Video after a render: widgets (188), a status line and the video as wide as the node (270): its column
# keeps this much room below the node's top, left of the minimap
VIDEO_ROOM = 520
GROUP_TITLE = 45  # a group's title bar (font 24) above its first node's title bar
# During a render Render in Chunks shows its progress text ("chunk 3 of 23: frames ..., about 9 min left", then
# "done: ...") below its widgets, up to two lines: its group keeps this much room below the node
CHUNK_TEXT_ROOM = 60
STAGE_COLORS = {"song": "#3f789e", "walk": "#8a6f3f", "biggan": "#3f8a5c", "sd": "#7a3f8a", "video": "#8a3f4a",
                "stems": "#3f7a8a"}


def group(title: str, stage: str, left: float, top: float, right: float, bottom: float) -> GraphGroup:
    """A stage box around nodes whose title bars start at ``top`` and whose bodies end at ``bottom``."""
    return GraphGroup(title, (left - 10, top - GROUP_TITLE, right - left + 20, bottom - top + GROUP_TITLE + 12),
                      STAGE_COLORS[stage])


def socket_y(node_y: float, index: int) -> float:
    """Canvas y of a node's input or output socket ``index`` (LiteGraph: 14 px below the top, 20 px apart)."""
    return node_y + 14 + 20 * index
