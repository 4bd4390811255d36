"""Headless OpenGL rendering with moderngl on EGL (Mesa llvmpipe on a CPU-only machine).

One draw call per frame renders every triangle of the scene into two targets at once: an RGB
image with simple lighting and an integer instance-id image (0 = walls, floor, ceiling; k =
object k). Depth comes from the depth buffer at no extra cost. See docs/synthetic.md for why
moderngl was chosen and how fast it is.

Lighting: ambient + one ceiling-like directional light + a soft headlight, with normals turned
toward the viewer so surfaces are two-sided. Floors get a procedural pattern (planks, tiles,
carpet grain) computed in the shader from world coordinates, so no texture files are needed.
"""

from __future__ import annotations

import os

import numpy as np

from ...errors import VsgrpoError
from .mesh import Mesh

_VERTEX = """
#version 330
uniform mat4 mvp;
in vec3 in_pos;
in vec3 in_nrm;
in vec3 in_col;
in float in_pat;
in int in_id;
out vec3 v_pos;
out vec3 v_nrm;
out vec3 v_col;
flat out float v_pat;
flat out int v_id;
void main() {
    gl_Position = mvp * vec4(in_pos, 1.0);
    v_pos = in_pos; v_nrm = in_nrm; v_col = in_col; v_pat = in_pat; v_id = in_id;
}
"""

_FRAGMENT = """
#version 330
uniform vec3 eye;
uniform vec3 light_dir;
in vec3 v_pos;
in vec3 v_nrm;
in vec3 v_col;
flat in float v_pat;
flat in int v_id;
layout(location = 0) out vec4 out_rgb;
layout(location = 1) out int out_id;
float hash(vec2 p) { return fract(sin(dot(p, vec2(127.1, 311.7))) * 43758.5453); }
void main() {
    vec3 n = normalize(v_nrm);
    vec3 to_eye = eye - v_pos;
    float dist = length(to_eye);
    to_eye /= dist;
    if (dot(n, to_eye) < 0.0) n = -n;
    vec3 col = v_col;
    if (v_pat > 0.5 && v_pat < 1.5) {          // planks: 15 cm boards, staggered joints
        float row = floor(v_pos.y / 0.15);
        float x = v_pos.x + hash(vec2(row, 1.0)) * 2.0;
        float plank = floor(x / 1.2);
        col *= 0.85 + 0.3 * hash(vec2(row, plank));
        if (fract(v_pos.y / 0.15) < 0.05 || fract(x / 1.2) < 0.01) col *= 0.6;
    } else if (v_pat > 1.5 && v_pat < 2.5) {   // tiles: 30 cm with grout
        vec2 f = fract(v_pos.xy / 0.3);
        if (f.x < 0.04 || f.y < 0.04) col *= 0.7;
    } else if (v_pat > 2.5) {                  // carpet grain
        col *= 0.92 + 0.16 * hash(floor(v_pos.xy / 0.02));
    }
    float diffuse = max(dot(n, -light_dir), 0.0);
    float head = max(dot(n, to_eye), 0.0);
    float shade = 0.38 + 0.37 * diffuse + 0.35 * head;
    shade *= 1.0 / (1.0 + 0.02 * dist * dist);
    out_rgb = vec4(pow(clamp(col * shade * 1.1, 0.0, 1.0), vec3(1.0 / 1.15)), 1.0);
    out_id = v_id;
}
"""

NEAR, FAR = 0.05, 50.0


def projection(K: np.ndarray, width: int, height: int, near: float = NEAR, far: float = FAR) -> np.ndarray:
    """OpenGL projection matrix equal to the OpenCV intrinsics ``K`` (image rows from the top)."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return np.array([
        [2 * fx / width, 0, 1 - 2 * cx / width, 0],
        [0, 2 * fy / height, 2 * cy / height - 1, 0],
        [0, 0, -(far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, -1, 0]])


_CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


def _load_triton_first() -> None:
    """Load triton's bundled LLVM before Mesa's, so both can live in one process.

    Mesa loads its driver with ``RTLD_GLOBAL``, which puts the system ``libLLVM`` in the global
    symbol scope. A later ``libtriton.so`` (imported by torch/transformers model code) would then
    bind its LLVM symbols to that other LLVM version and segfault in its static initialisers.
    Loaded first (Python uses ``RTLD_NOW``), triton binds to its own copy. Costs ~0.1 s.
    """
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        return
    try:
        import triton  # noqa: F401
    except Exception:  # a broken triton install is not the renderer's problem
        pass


def create_context():
    """A headless OpenGL 3.3 context (EGL). Fails with a message saying what to install."""
    _load_triton_first()
    try:
        import moderngl
    except ImportError:
        raise VsgrpoError("the synthetic renderer needs moderngl: run `bash scripts/setup.sh` "
                          "(or `pip install moderngl`)") from None
    try:
        return moderngl.create_context(standalone=True, backend="egl")
    except Exception as e:  # glcontext raises plain Exceptions with the loader message
        raise VsgrpoError(f"cannot create a headless OpenGL context ({e}); install the Mesa EGL "
                          "drivers: `apt-get install libegl1 libgl1-mesa-dri` (scripts/setup.sh does this)") from None


class Renderer:
    """Renders one scene mesh from many cameras. Create once per scene; not thread-safe."""

    def __init__(self, mesh: Mesh, ids: np.ndarray, width: int, height: int, ctx=None):
        self.width, self.height = int(width), int(height)
        self.ctx = ctx or _shared_context()
        ctx = self.ctx
        self.prog = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        vert = np.empty(len(mesh.pos), dtype=[("pos", "f4", 3), ("nrm", "f4", 3), ("col", "f4", 3),
                                              ("pat", "f4"), ("id", "i4")])
        vert["pos"], vert["nrm"], vert["col"], vert["pat"], vert["id"] = mesh.pos, mesh.nrm, mesh.col, mesh.pat, ids
        self.vbo = ctx.buffer(vert.tobytes())
        self.vao = ctx.vertex_array(self.prog, [(self.vbo, "3f 3f 3f 1f 1i", "in_pos", "in_nrm", "in_col",
                                                 "in_pat", "in_id")])
        self.rgb = ctx.renderbuffer((self.width, self.height), 4)
        self.ids = ctx.renderbuffer((self.width, self.height), 1, dtype="i4")
        self.depth = ctx.depth_renderbuffer((self.width, self.height))
        self.fbo = ctx.framebuffer(color_attachments=[self.rgb, self.ids], depth_attachment=self.depth)
        light = np.array([0.35, 0.25, -1.0])
        self.prog["light_dir"].value = tuple(light / np.linalg.norm(light))

    def render(self, K: np.ndarray, cam_to_world: np.ndarray, *, with_rgb: bool = True,
               with_depth: bool = False) -> dict[str, np.ndarray]:
        """Render one view. Returns ``ids`` (H, W) int32, and ``rgb`` (H, W, 3) uint8 / ``depth``
        (H, W) float32 metres along the optical axis (inf where nothing was hit) when asked."""
        import moderngl

        ctx = self.ctx
        view = _CV_TO_GL @ np.linalg.inv(cam_to_world)
        mvp = projection(K, self.width, self.height) @ view
        self.prog["mvp"].write(mvp.T.astype("f4").tobytes())
        self.prog["eye"].value = tuple(float(v) for v in cam_to_world[:3, 3])
        self.fbo.use()
        self.fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        self.vao.render(moderngl.TRIANGLES)
        out = {}
        h, w = self.height, self.width
        raw = self.fbo.read(components=1, attachment=1, dtype="i4")
        out["ids"] = np.frombuffer(raw, np.int32).reshape(h, w)[::-1]
        if with_rgb:
            out["rgb"] = np.frombuffer(self.fbo.read(components=3, attachment=0), np.uint8).reshape(h, w, 3)[::-1]
        if with_depth:
            d = np.frombuffer(self.fbo.read(components=1, attachment=-1, dtype="f4"), np.float32).reshape(h, w)[::-1]
            ndc = 2.0 * d - 1.0
            z = 2.0 * NEAR * FAR / (FAR + NEAR - ndc * (FAR - NEAR))
            out["depth"] = np.where(d >= 1.0, np.inf, z).astype(np.float32)
        return out

    def release(self) -> None:
        for obj in (self.fbo, self.rgb, self.ids, self.depth, self.vao, self.vbo, self.prog):
            obj.release()


_CTX = None
_CTX_PID = None


def _shared_context():
    """One context per process (creating one costs ~0.3 s); a forked child makes its own."""
    global _CTX, _CTX_PID
    if _CTX is None or _CTX_PID != os.getpid():
        _CTX, _CTX_PID = create_context(), os.getpid()
    return _CTX
