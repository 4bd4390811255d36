"""Contact sheet per scene: sampled frames beside a top-down plan with the camera path."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .scene_gen import SynthScene


def plan_image(s: SynthScene, size: int) -> Image.Image:
    """Top-down view in the world frame: floor, objects in their main colour, camera path."""
    foot = s.scene.floor_plan.polygons[0]
    lo, hi = foot.min(0), foot.max(0)
    scale = (size - 16) / float(max(hi - lo))
    off = (size - (hi - lo) * scale) / 2

    def px(p):
        q = (np.asarray(p)[..., :2] - lo) * scale + off
        return [(float(x), float(size - y)) for x, y in q.reshape(-1, 2)]  # north up

    img = Image.new("RGB", (size, size), (32, 32, 36))
    d = ImageDraw.Draw(img)
    d.polygon(px(foot), fill=(205, 200, 190), outline=(90, 90, 90))
    order = sorted(range(len(s.instances)), key=lambda k: s.placed[k].z0)
    for k in order:
        cat, i = s.instances[k]
        box = s.scene.objects[cat][i]
        c = box.corners()[[0, 2, 6, 4]]  # the bottom face, in order around it
        color = tuple(int(255 * v) for v in s.placed[k].main)
        d.polygon(px(c), fill=color, outline=(20, 20, 20))
    path = px(s.poses[:, :3, 3])
    d.line(path, fill=(220, 40, 40), width=2)
    x, y = path[0]
    d.ellipse((x - 4, y - 4, x + 4, y + 4), fill=(40, 160, 40))
    return img


def contact_sheet(s: SynthScene, frames: list[np.ndarray], *, thumb_height: int = 120, cols: int = 4) -> Image.Image:
    """``frames`` (already chosen, e.g. 8) in a grid of ``cols``, the plan on the left."""
    h, w = frames[0].shape[:2]
    th, tw = thumb_height, int(round(w * thumb_height / h))
    rows = int(np.ceil(len(frames) / cols))
    plan = plan_image(s, th * rows)
    sheet = Image.new("RGB", (plan.width + cols * tw, th * rows), (0, 0, 0))
    sheet.paste(plan, (0, 0))
    for k, f in enumerate(frames):
        sheet.paste(Image.fromarray(f).resize((tw, th), Image.BILINEAR), (plan.width + (k % cols) * tw, (k // cols) * th))
    ImageDraw.Draw(sheet).text((4, 2), f"{s.scene.name} {s.room.theme} {s.scene.room_size:.1f} m2",
                               fill=(255, 255, 255))
    return sheet
