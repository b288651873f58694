"""The Implanter catalogue: schemas, territory reference layers, storage and import/export."""

__version__ = "0.1.0"
