"""Write docs/plan-template.xlsx from docs/plan-template.csv (the same rows): ``python docs/make_plan_template.py``.

Every cell is text, as the export writes them; the import also reads dates and times typed as Excel dates."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent


def main() -> None:
    with (HERE / "plan-template.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "plan"
    for values in rows:
        sheet.append(values)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFG", (12, 7, 18, 60, 14, 40, 16), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows():
        for cell in row:
            cell.number_format = "@"  # text: Excel must not turn 2035-03-05 into a number
    book.properties.creator = "smm-scheduler"
    book.save(HERE / "plan-template.xlsx")


if __name__ == "__main__":
    main()
