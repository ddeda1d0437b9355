#!/usr/bin/env python3
"""Read an XLSX that src/core/table_xlsx.c wrote with openpyxl (Debian's
python3-openpyxl), a reader that is not ours, and print what it finds as
one JSON object for tests/unit/test_table.c to check: the sheet's frozen
panes and column widths, and per cell its value, openpyxl's data type, its
number format, whether it is bold and whether it is a date.

    table_read.py FILE.xlsx
"""
import datetime
import json
import sys

import openpyxl


def cell(c):
    v = c.value
    if isinstance(v, (datetime.datetime, datetime.date)):
        v = v.isoformat()
    return {"v": v, "t": c.data_type, "fmt": c.number_format,
            "bold": bool(c.font.b), "date": bool(c.is_date)}


def main():
    wb = openpyxl.load_workbook(sys.argv[1])
    ws = wb.worksheets[0]
    out = {"sheets": len(wb.worksheets), "title": wb.properties.title,
           "freeze": ws.freeze_panes,
           "widths": {k: d.width for k, d in ws.column_dimensions.items()},
           "rows": [[cell(c) for c in row] for row in ws.iter_rows()]}
    json.dump(out, sys.stdout)


main()
