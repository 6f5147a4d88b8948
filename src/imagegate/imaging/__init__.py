"""Pillow work: checking and conforming image bytes, decoding bounded by a pixel budget, thumbnails."""
