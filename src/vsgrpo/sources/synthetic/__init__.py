"""Procedural rooms rendered to video: a data source with exact answers that runs anywhere.

Python API::

    from vsgrpo.sources.synthetic import SynthConfig, generate_dataset, generate_scene

    generate_dataset("data/synth", SynthConfig(scenes=20, seed=0, frames=120, width=320, height=240))
    s = generate_scene(seed=0, index=3)       # in memory: s.scene (meta), s.mesh, s.poses, s.K

See docs/synthetic.md for the design.
"""

from .catalogue import CATEGORIES
from .render import Renderer
from .scene_gen import DATASET, SynthScene, generate_scene, scene_name
from .writer import SynthConfig, generate_dataset, make_scene, merge_meta

__all__ = ["CATEGORIES", "DATASET", "Renderer", "SynthConfig", "SynthScene", "generate_dataset", "generate_scene",
           "make_scene", "merge_meta", "scene_name"]
