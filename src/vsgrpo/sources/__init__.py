"""Data sources: each converts one raw format into :class:`vsgrpo.scene.Scene` plus sidecar files.

``synthetic`` (procedural rooms rendered to video) runs anywhere and needs no download.
"""
