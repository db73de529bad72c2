"""Files the lab writes for people to open: CSV made safe for spreadsheets (no formula runs from a cell)."""

from pathlib import Path

import pandas as pd

# A cell starting with one of these is a formula in Excel / LibreOffice / Sheets (OWASP "CSV injection"): a model
# (or a fine-tuned adapter) writing '=HYPERLINK(...)' must not run when someone opens the download.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet would read as a formula gets a leading apostrophe (shown as text); numbers stay."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    safe = table.copy()
    for column in safe.columns:  # every column: text may sit in object or pandas' own string dtype
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_safe)
    safe.columns = [spreadsheet_safe(str(c)) for c in safe.columns]
    safe.to_csv(path, index=False)
