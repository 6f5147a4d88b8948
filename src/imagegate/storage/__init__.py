"""Where images are kept and how clients are handed URLs to them."""
