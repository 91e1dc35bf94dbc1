"""Fills become positions and round-trip trades with the P&L a trader computes by hand."""

from decimal import Decimal as D

from broker.models import Fill, Instrument, Position, Trade
from broker.portfolio import apply_fill, book_fill, mark_to_market, position_rows, realized_pnl
from tests.broker.conftest import usd_account
from tests.broker.portfolio.conftest import make_fill, make_order


def test_it_books_a_scripted_sequence_of_fills_like_the_hand_computation(alice, aapl):
    """Commission 1.00 per fill unless stated. Hand computation, average cost:

    1. BUY 100 @ 10.00           long 100, basis 1000.00; trade 1 long, realized -1.00
    2. BUY  50 @ 13.00 (add)     long 150, basis 1650.00, average 11.00; trade 1 realized -2.00
    3. SELL 60 @ 12.00 (partial) releases 1650*60/150 = 660.00, gross 720-660 = +60.00
                                 long 90, basis 990.00; trade 1 realized -2 + 60 - 1 = 57.00
    4. SELL 90 @ 9.00 as two partial fills of one order (40 then 50, commission 0.50 each)
       40: releases 990*40/90 = 440.00, gross 360-440 = -80.00; realized 57 - 80 - 0.5 = -23.50
       50: releases the rest 550.00, gross 450-550 = -100.00; realized -23.5 - 100 - 0.5 = -124.00
       trade 1 closed: exit (60*12 + 40*9 + 50*9)/150 = 10.20; (10.20-11.00)*150 - 4.00 = -124.00
    5. SELL 100 @ 20.00          short 100, basis -2000.00; trade 2 short, realized -1.00
    6. BUY  30 @ 18.00 (cover)   releases -2000*30/100 = -600.00, gross 600-540 = +60.00
                                 short 70, basis -1400.00; trade 2 realized -1 + 60 - 1 = 58.00
    7. BUY 120 @ 15.00, commission 1.20 (reversal): closes 70, gross 1400-1050 = +350.00
       commission split 70/120 → 0.70 to trade 2, 0.50 to the new trade 3
       trade 2 closed: realized 58 + 350 - 0.70 = 407.30, exit (30*18 + 70*15)/100 = 15.90
       trade 3 long 50 @ 15.00, realized -0.50; position long 50, basis 750.00
    8. mark at 16.00             unrealized 50*16 - 750 = 50.00
    Realized -124.00 + 407.30 - 0.50 = 282.80; with unrealized 332.80.
    Cash: buys -(1000+650+540+1800) + sells (720+360+450+2000) - commissions 7.20 = -467.20,
    plus position value 50*16 = 800.00 → 332.80, the same.
    """
    apply_fill(make_order(alice, aapl, "BUY", 100), make_fill(100, "10.00", "1.00", minutes=0))
    apply_fill(make_order(alice, aapl, "BUY", 50), make_fill(50, "13.00", "1.00", minutes=1))
    apply_fill(make_order(alice, aapl, "SELL", 60), make_fill(60, "12.00", "1.00", minutes=2))
    split_exit = make_order(alice, aapl, "SELL", 90)
    apply_fill(split_exit, make_fill(40, "9.00", "0.50", minutes=3))
    position = Position.objects.get(owner=alice, instrument=aapl)
    assert (position.quantity, position.average_cost) == (D(50), D(11))
    apply_fill(split_exit, make_fill(50, "9.00", "0.50", minutes=4))
    apply_fill(make_order(alice, aapl, "SELL", 100), make_fill(100, "20.00", "1.00", minutes=5))
    apply_fill(make_order(alice, aapl, "BUY", 30), make_fill(30, "18.00", "1.00", minutes=6))
    apply_fill(make_order(alice, aapl, "BUY", 120), make_fill(120, "15.00", "1.20", minutes=7))
    unrealized = mark_to_market(alice, {aapl.conid: D("16.00")})

    first, second, third = Trade.objects.filter(owner=alice).order_by("entry_at")
    assert (first.direction, first.quantity, first.entry_price, first.exit_price) == ("long", 150, D(11), D("10.2"))
    assert first.realized_pnl == D("-124.00") and first.commission == D("4.00") and first.is_closed()
    assert (second.direction, second.quantity, second.entry_price, second.exit_price) == ("short", 100, 20, D("15.9"))
    assert second.realized_pnl == D("407.30") and second.commission == D("2.70") and second.is_closed()
    assert (third.direction, third.quantity, third.entry_price, third.is_closed()) == ("long", 50, D(15), False)
    assert third.realized_pnl == D("-0.50")
    assert second.exit_at == third.entry_at

    position = Position.objects.get(owner=alice, instrument=aapl)
    assert (position.quantity, position.average_cost, position.unrealized_pnl) == (D(50), D(15), D(50))
    assert unrealized == D("50.00")
    assert realized_pnl(alice, usd_account()) == D("282.80")
    assert split_exit.fills.count() == 2


def test_it_books_a_fill_once_however_often_the_broker_reports_it(alice, aapl):
    order = make_order(alice, aapl, "BUY", 10)
    fill = make_fill(10, "100.00", "1.00", exec_id="0001f4e8.67a1.01.01")

    assert apply_fill(order, fill) is not None
    assert apply_fill(order, fill) is None

    assert Fill.objects.filter(exec_id=fill.exec_id).count() == 1
    assert Position.objects.get(owner=alice, instrument=aapl).quantity == 10
    assert Trade.objects.get(owner=alice).quantity == 10


def test_a_short_round_trip_gains_when_the_price_falls(alice, aapl):
    apply_fill(make_order(alice, aapl, "SELL", 10), make_fill(10, "50.00"))
    apply_fill(make_order(alice, aapl, "BUY", 10), make_fill(10, "45.00", minutes=60))

    trade = Trade.objects.get(owner=alice)
    assert (trade.direction, trade.realized_pnl, trade.exit_price) == ("short", D("50.00"), D(45))
    assert Position.objects.get(owner=alice, instrument=aapl).quantity == 0


def test_positions_are_kept_per_owner(alice, bob, aapl):
    apply_fill(make_order(alice, aapl, "BUY", 10), make_fill(10, "100"))
    apply_fill(make_order(bob, aapl, "SELL", 5), make_fill(5, "100"))

    assert Position.objects.get(owner=alice).quantity == 10
    assert Position.objects.get(owner=bob).quantity == -5


def test_a_partial_close_realizes_on_the_released_share_of_the_cost_basis():
    effect = book_fill(D(3), D("100.00"), D(-1), D("40.00"))

    assert effect.realized == D("6.6667")  # 40 - 100/3 rounded to money
    assert (effect.quantity, effect.cost_basis) == (D(2), D("66.6667"))
    closing = book_fill(effect.quantity, effect.cost_basis, D(-2), D("40.00"))
    assert effect.realized + closing.realized == D("20.00")  # 3*40 - 100: rounding never leaks
    assert (closing.quantity, closing.cost_basis) == (0, 0)


def test_a_future_gains_its_multiplier_per_point(alice):
    """An E-mini (multiplier 50): BUY 2 @ 5000, mark at 5004, SELL 2 @ 5010, commission 2.25 a fill.

    Unrealized at the mark: 2 × 4 × 50 = 400.00. Realized: 2 × 10 × 50 - 4.50 = 995.50.
    """
    future = Instrument.objects.create(symbol="ES", conid=551601561, sec_type="FUT", exchange="CME", multiplier="50")

    apply_fill(make_order(alice, future, "BUY", 2), make_fill(2, "5000", "2.25", minutes=0))
    unrealized = mark_to_market(alice, {future.conid: D("5004")})
    position = Position.objects.get(owner=alice, instrument=future)
    assert (position.average_cost, position.unrealized_pnl, unrealized) == (D(5000), D(400), D(400))
    [row] = position_rows(alice, account=usd_account())
    assert (row["market_value"], row["pct_gain"]) == (D("500400"), D("0.08"))

    apply_fill(make_order(alice, future, "SELL", 2), make_fill(2, "5010", "2.25", minutes=1))
    trade = Trade.objects.get(owner=alice, instrument=future)
    assert trade.is_closed() and trade.realized_pnl == D("995.50")
    assert realized_pnl(alice, usd_account()) == D("995.50")
