"""The exchange's liquidation price is a live figure: the positions rows and the ledger's records
stay as they were, so segments written before it existed read back the same."""
import dataclasses
import json
from decimal import Decimal

from engine.model import Mode
from storage.rows import position_rows
from storage.writer import decode_rows, encode_rows
from tests.storage import factories as f


def test_the_liquidation_price_leaves_the_rows_and_the_ledger_records_unchanged():
    before = f.position("BTCUSDT", "0.02", 1, mode=Mode.TESTNET)
    after = dataclasses.replace(before, liquidation_price=Decimal("40123.5"))
    assert position_rows(after) == position_rows(before)
    def through_the_ledger(update):
        return decode_rows(json.loads(json.dumps(encode_rows(position_rows(update)), default=str)))

    assert through_the_ledger(before) == through_the_ledger(after)
