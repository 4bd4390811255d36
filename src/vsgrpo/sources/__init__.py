"""Data sources: each converts one raw format into :class:`vsgrpo.scene.Scene` plus sidecar files.

``synthetic`` (procedural rooms rendered to video) runs anywhere and needs no download.

Real scans: one module per format, named in :data:`SOURCES` (``vsgrpo data ingest --source``).
A module provides ``list_scenes(root)`` and a ``Loader`` (a :class:`~vsgrpo.sources.assemble.SceneLoader`
that reads one scene into a :class:`~vsgrpo.sources.assemble.RawScene`); everything after that
(boxes, room, video, visibility, meta info) is shared by all sources.
"""

SOURCES = ("scannet", "scannetpp", "arkitscenes", "custom")
