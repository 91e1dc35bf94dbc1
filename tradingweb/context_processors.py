from django.conf import settings


def trading_mode(request):
    return {
        "trading_mode": settings.TRADING_MODE,
        "live_trading": settings.TRADING_MODE == "live",
        "llm_provider": settings.LLM_PROVIDER,
        "broker_adapter": settings.BROKER_ADAPTER,
    }
