"""The gateway's C2PA provenance: its signing credentials and the `ImageMarker` adapter on c2pa-python."""
