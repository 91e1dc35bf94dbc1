from decimal import Decimal

from tradingweb.templatetags.ui import money, percent, pnl_class, quantity, signed_money, table_columns


def test_money_groups_thousands_and_rounds_to_cents():
    assert money(Decimal("1234567.891")) == "1,234,567.89"
    assert money(Decimal("-88")) == "-88.00"
    assert money(None) == "—"


def test_signed_money_always_shows_the_sign():
    assert signed_money(Decimal("1204.1")) == "+1,204.10"
    assert signed_money(Decimal("-28")) == "-28.00"


def test_quantity_drops_trailing_zeros():
    assert quantity(Decimal("100.0000")) == "100"
    assert quantity(Decimal("0.5000")) == "0.5"
    assert quantity(Decimal("12500")) == "12,500"


def test_percent_reads_a_ratio():
    assert percent(Decimal("0.0512")) == "5.1%"


def test_profit_is_green_and_loss_red():
    assert pnl_class(Decimal("1")) == "text-emerald-400"
    assert pnl_class(Decimal("-1")) == "text-rose-400"
    assert pnl_class(Decimal("0")) == "text-slate-400"


def test_table_columns_read_alignment_and_phone_visibility():
    assert table_columns("Symbol", "Qty:num", "Avg cost:num:wide") == [
        {"label": "Symbol", "numeric": False, "wide": False},
        {"label": "Qty", "numeric": True, "wide": False},
        {"label": "Avg cost", "numeric": True, "wide": True},
    ]
