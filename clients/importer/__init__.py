"""Client-book import: an .xlsx (five sheets) or a .csv (clients only) into the book of business.

Two phases: read and validate every row of every sheet, then write. Nothing is written
unless every row is valid, so a user fixes the file and uploads it again instead of
repairing half an import. Rows are matched to what is already in the system by their
natural keys (credit code, contract number, ...), which makes a second import of the same
file a no-op and a changed file an update.

The field rules live on the models (field validators, choices, max lengths, constraints);
this package parses spreadsheet cells into Python values, runs the models' field validation
on them and adds the rules that span rows or need the database.

    spec        the sheets and their columns, the words accepted for choices
    reading     the upload into tables of raw values, within the size, row and XML limits
    cells       one raw value into one Python value, or the user's message
    validation  rows parsed and checked: each row, across rows and sheets, against the database
    writing     what the rows create or change, written all or nothing
    results     the errors or the counts handed back
    template    the downloadable template workbook
    service     client_book_import: the phases in order, in one transaction
"""

from .reading import human_size
from .results import error_count_message
from .service import client_book_import
from .spec import CLIENTS, CONTACTS, CONTRACTS, RECEIVABLES, SHEETS
from .template import XLSX_CONTENT_TYPE, client_book_template

__all__ = [
    "CLIENTS",
    "CONTACTS",
    "CONTRACTS",
    "RECEIVABLES",
    "SHEETS",
    "XLSX_CONTENT_TYPE",
    "client_book_import",
    "client_book_template",
    "error_count_message",
    "human_size",
]
