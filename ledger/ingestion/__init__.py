"""Ingestion: from text to committed events.

- `parse`: JSON text to validated inputs, every bad line named (run in worker
  processes for large imports and bodies, `workers`).
- `pipeline`: an import streamed in chunks — parse ahead, check the rules,
  append — all or nothing (`Ledger.import_lines`).
- `group_commit`: concurrent writers (HTTP requests) sharing one transaction.

The rules each input is checked against are `ledger.rules`, dispatched by the
catalogue (`ledger.catalogue`), over a unit of work (`ledger.writes.Staging`).
"""
