"""Import and export of the catalogue: listing files in, listing files and CNIG tables out."""

from geodata.io._csv import looks_binary
from geodata.io.cnig import CnigExport, CnigTables, export_cnig, read_cnig
from geodata.io.exporter import canonical_frame, export_listings, frame_from_listings
from geodata.io.importer import (
    ImportReport,
    ImportWriteError,
    ListingsFileError,
    ParsedListings,
    RowError,
    RowWarning,
    UnsupportedFormatError,
    detect_format,
    find_probable_duplicates,
    import_listings,
    read_listings,
)
from geodata.io.limits import ImportLimitError, ImportLimits
from geodata.io.report import format_report

__all__ = [
    "CnigExport",
    "CnigTables",
    "ImportLimitError",
    "ImportLimits",
    "ImportReport",
    "ImportWriteError",
    "ListingsFileError",
    "ParsedListings",
    "RowError",
    "RowWarning",
    "UnsupportedFormatError",
    "canonical_frame",
    "detect_format",
    "export_cnig",
    "export_listings",
    "find_probable_duplicates",
    "format_report",
    "frame_from_listings",
    "import_listings",
    "looks_binary",
    "read_cnig",
    "read_listings",
]
