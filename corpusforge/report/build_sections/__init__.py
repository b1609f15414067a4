"""The sections of a built dataset's report, one family a module; report/build_page.py puts them in order."""
