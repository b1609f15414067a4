"""The ground floor for file I/O: files cut into raw records, and what reading a record can end in.

Readers (pipeline/readers/), instruction adapters and eval sets (instruct/), source formats (formats/) and the
labeller's items (label/items.py) all cut files the same way, so the same bad input ends the same way everywhere.
Nothing here imports anything of corpusforge above it, nor datatrove.

input_records.py    RawRecord/RowRecord (a unit of input and where it was found), ParsedRecord, and the outcomes
                    MalformedRecord, MalformedFile, DropRecord
lone_surrogates.py  finding text that cannot be encoded (a lone surrogate), and writing it printable
quarantine.py       keeping raw input losslessly in JSON; the per-task quarantine file
decoding.py         a file's bytes as text without losing any (surrogateescape), the UTF-16 byte order mark check
json_layouts.py     JSON lines, JSON arrays and objects (streamed by a bounded scanner), told apart by parsing
delimited.py        CSV/TSV rows, parsed strictly (a quote left open is quarantined, not swallowed)
parquet.py          parquet rows
safe_xml.py         XML parsing that refuses entity declarations and external entities
"""
