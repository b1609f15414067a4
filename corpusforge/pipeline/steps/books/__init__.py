"""Book steps: `books.strip_nontext` (clean a whole book) and `books.chunk` (cut it into training documents).

The AntGLM-Med paper removes "contents in non-text format from the books, such as tables and appendices" before
pre-training. `books.strip_nontext` does that with line-level heuristics that are cheap, explainable and counted;
`books.chunk` then cuts the cleaned book on sentence boundaries (spaCy) into documents that never cross a chapter
and carry their section path. After the transcription markup (markup.py: Project Gutenberg licence, transcriber's
blocks, bracketed markup, footnotes) and the title pages (front_matter.py), the heuristics, in the order they run,
each described in its module:

1. Pages (pages.py): page numbers and running headers/footers go; a paragraph cut by a page break is re-joined.
2. Tables (tables.py): runs of table-ish lines, HTML `<table>` elements and Markdown image lines.
3. Captions (tables.py): `Figure 3.2 ...`, `Table 1. ...` starting a block, with their wrapped lines.
4. Named back matter (back_matter.py): references, appendices, indexes, contents and lists of illustrations under
   their heading.
5. Unnamed back matter (back_matter.py): reference lists, indexes (alphabetic runs) and contents lists without a
   heading. A removed part leaves a section break: `books.chunk` ends its chunk and its section labels there.
6. Paragraphs (paragraphs.py): hard-wrapped lines are joined and line-end hyphenation is repaired.
7. Headings (headings.py) are kept, each as a paragraph of its own.

strip.py runs them all (`books.strip_nontext`), chunk.py is `books.chunk`, and text.py holds what they share.
A module imports only from the ones below it: text, headings <- markup, pages, tables, back_matter, paragraphs
<- front_matter (back_matter) <- strip; text, headings <- chunk. This file imports nothing: the registry finds strip.py and chunk.py by their
`@register` lines, and a worker that unpickles one of the two steps does not import the other.
"""
