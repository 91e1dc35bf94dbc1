from broker.gateway_sim import SERVER_VERSION


def test_it_logs_a_client_on_with_a_paper_account(gateway, ib):
    assert ib.isConnected()
    assert ib.client.serverVersion() == SERVER_VERSION
    assert ib.managedAccounts() == [gateway.account_id]
    assert gateway.account_id.startswith("DU")


def test_it_tells_the_current_market_time(gateway, ib):
    reported = ib.reqCurrentTime()
    assert abs((reported - gateway.clock.now()).total_seconds()) < 120
