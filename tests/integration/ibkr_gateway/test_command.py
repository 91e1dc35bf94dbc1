from datetime import UTC, datetime

import pytest
from django.core.management import CommandError

from broker.management.commands.run_gateway_sim import Command, build_simulator


def options(*argv: str) -> dict:
    return vars(Command().create_parser("manage.py", "run_gateway_sim").parse_args(argv))


def test_the_command_listens_on_the_ib_gateway_paper_port_by_default():
    simulator = build_simulator(options())

    assert (simulator.host, simulator.port) == ("127.0.0.1", 4002)
    assert simulator.account_id.startswith("DU")
    assert simulator.clock.is_wall_clock
    assert simulator.pacing is None


def test_the_command_wires_the_faults_and_the_replay_clock():
    simulator = build_simulator(
        options(
            "--port",
            "4999",
            "--account",
            "DU1234567",
            "--delay",
            "0.5",
            "--reject-orders",
            "2",
            "--pacing-errors",
            "1",
            "--enforce-pacing",
            "--market-start",
            "2024-01-03T14:30",
            "--speed",
            "60",
        )
    )

    assert simulator.port == 4999 and simulator.account_id == "DU1234567"
    assert simulator.faults.response_delay == 0.5
    assert [simulator.faults.take_order_rejection() for _ in range(3)][2] is None
    assert simulator.faults.take_pacing_violation() and not simulator.faults.take_pacing_violation()
    assert simulator.pacing is not None
    assert datetime(2024, 1, 3, 14, 30, tzinfo=UTC) <= simulator.clock.now() < datetime(2024, 1, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "argv",
    [("--account", "U1234567"), ("--market-start", "yesterday"), ("--speed", "0")],
)
def test_the_command_refuses_bad_options(argv):
    with pytest.raises(CommandError):
        build_simulator(options(*argv))
