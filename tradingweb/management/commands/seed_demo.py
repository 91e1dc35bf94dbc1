from django.core.management.base import BaseCommand

from tradingweb.demo import seed_demo_data


class Command(BaseCommand):
    help = (
        "Create the demo trader and staff user, demo instruments, the built-in workflow templates and two "
        "strategies. Idempotent: existing rows are left as they are. Prints the logins."
    )

    def handle(self, *args, **options):
        for line in seed_demo_data().lines():
            self.stdout.write(line)
