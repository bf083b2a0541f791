"""What a stopped run left on local disk, counted without locks or repairs."""
from storage.journal import Journal
from storage.pending import pending_rows, pending_text


def test_ledger_spool_and_refused_rows_are_counted_and_named(tmp_path):
    (tmp_path / "ledger").mkdir()
    ledger = Journal(tmp_path / "ledger" / "ledger-00000000000000000001.jsonl")
    ledger.append([[1, [["trades", {}], ["orders", {}]]], [2, [["equity", {}]]]])
    ledger.close()
    spool = Journal(tmp_path / "spool.jsonl")
    spool.append([[["trades", {}]]])
    spool.close()
    refused = Journal(tmp_path / "rejected.jsonl")
    refused.append([{"error": "conflict", "rows": [["trades", {}]]}])
    refused.close()
    with open(tmp_path / "spool.jsonl", "ab") as fh:
        fh.write(b"0000")  # a line still being written by a running engine is not counted, nor cut

    pending = pending_rows(tmp_path)
    assert (pending.ledger, pending.spooled, pending.refused) == (3, 1, 1)
    assert (tmp_path / "spool.jsonl").read_bytes().endswith(b"0000")
    stopped = pending_text(pending, running=False)
    assert "journal 4 rows" in stopped[0] and str(tmp_path) in stopped[0]
    assert "refused 1 row the database" in stopped[1] and "rejected.jsonl" in stopped[1]
    assert len(pending_text(pending, running=True)) == 1  # a running engine writes its own; refusals stay
    assert pending_text(pending_rows(tmp_path / "nothing-here"), running=False) == []
