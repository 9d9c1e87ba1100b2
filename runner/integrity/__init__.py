"""Integrity: know what is really in the database, and whether it is what the code says.

One module per job, over plain data (`runner.core.findings.Finding`, the type every check
reports):

- `checksums`: the sha256 of each revision file (the digest `manifest.json` lists) and who ran.
- `validate`: the history against the code (edited, missing, duplicate, out-of-order revisions).
- `schema`: a normalised description of the live schema (SQLAlchemy's inspector, plus what it
  misses); `expected`: that description after every revision, built on a throwaway database.
- `drift`: the live schema against the expected one at the database's revision.
- `baseline`: adopt a database built by hand: record a revision without running it.
- `import_sql`: turn the old numbered `.sql` files into revisions (authoring, no database);
  `verbatim`: what those revisions call to run their SQL as written.
- `repair`: what an interrupted run left behind, and clearing what is safe to clear.

The engine's verbs (`_validate`, `_drift`, `_baseline`, `_repair`) delegate here.
"""
