"""Asking for images: an operation admitted (price, limits, screening, hold), run upstream, delivered and settled;
the images kept, listed, served and swept."""
