"""Model providers: which endpoint a model call goes to, with which key, at what price.

Staff define providers in the admin (agents.models.ModelProvider); settings give the default one
(LLM_BASE_URL, LLM_API_KEY, LLM_MODELS, LLM_PRICES) and the offline analyst is always there.
Traders pick a provider and a model by name; the key of a provider is only ever sent to that
provider's base URL, because a client is built from a `Provider` and nothing else.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from decimal import Decimal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from agents.models import ModelPrice, ModelProvider

OFFLINE_PROVIDER = "offline"


class UnknownModel(ValueError):
    """A provider or model a trader named is not offered here."""


@dataclass(frozen=True)
class ProviderLimits:
    """What one provider takes from all our processes together (agents.limits); None: no limit."""

    max_in_flight: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def any(self) -> bool:
        return bool(self.max_in_flight or self.requests_per_minute or self.tokens_per_minute)


NO_LIMITS = ProviderLimits()


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    models: tuple[str, ...]
    api_key: str = field(default="", repr=False)
    offline: bool = False
    settings_prices: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # USD per 1M (in, out)
    row_id: int | None = None  # staff's ModelProvider row; None: the default provider from settings
    limits: ProviderLimits = NO_LIMITS

    def allows(self, model: str) -> bool:
        return model in self.models

    def prices(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Settings' prices overridden by the ones staff keep in the admin."""
        if self.name == OFFLINE_PROVIDER:
            return dict(self.settings_prices)
        rows = ModelPrice.objects.filter(provider_id=self.row_id)
        return {**self.settings_prices, **{row.model: (row.input_price, row.output_price) for row in rows}}

    def price(self, model: str) -> tuple[Decimal, Decimal] | None:
        """Prices of `model`; dated variants such as gpt-4o-2024-08-06 use gpt-4o's. None: unknown."""
        prices = self.prices()
        if model in prices:
            return prices[model]
        prefixes = [name for name in prices if model.startswith(name)]
        return prices[max(prefixes, key=len)] if prefixes else None


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tradingweb model provider keys").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_api_key(api_key: str) -> str:
    return _fernet().encrypt(api_key.encode()).decode() if api_key else ""


def decrypt_api_key(token: str) -> str:
    """The stored key; empty when none is stored or SECRET_KEY changed since it was (staff re-enter it)."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def stored_api_key(row: ModelProvider) -> str:
    if row.api_key_env:
        return os.environ.get(row.api_key_env, "")
    return decrypt_api_key(row.api_key_encrypted)


def default_provider() -> Provider:
    """The provider built from settings; staff may price its models in the admin (prices without a provider)."""
    return Provider(
        name=settings.LLM_PROVIDER_NAME,
        base_url=settings.LLM_BASE_URL,
        models=tuple(settings.LLM_MODELS),
        api_key=settings.LLM_API_KEY,
        # Without a key the default provider is the offline analyst, so everything runs without network.
        offline=settings.LLM_PROVIDER == "offline",
        settings_prices=dict(settings.LLM_PRICES),
        limits=ProviderLimits(
            max_in_flight=settings.LLM_MAX_IN_FLIGHT or None,
            requests_per_minute=settings.LLM_REQUESTS_PER_MINUTE or None,
            tokens_per_minute=settings.LLM_TOKENS_PER_MINUTE or None,
        ),
    )


def offline_provider() -> Provider:
    return Provider(
        name=OFFLINE_PROVIDER,
        base_url="",
        models=(settings.OFFLINE_MODEL_NAME,),
        offline=True,
        settings_prices={settings.OFFLINE_MODEL_NAME: (Decimal("0"), Decimal("0"))},
    )


def provider_from_row(row: ModelProvider) -> Provider:
    return Provider(
        name=row.name,
        base_url=row.base_url,
        models=tuple(row.allowed_models or ()),
        api_key=stored_api_key(row),
        row_id=row.pk,
        limits=ProviderLimits(
            max_in_flight=row.max_in_flight,
            requests_per_minute=row.requests_per_minute,
            tokens_per_minute=row.tokens_per_minute,
        ),
    )


def reserved_provider_names() -> set[str]:
    return {settings.LLM_PROVIDER_NAME, OFFLINE_PROVIDER}


def all_providers() -> dict[str, Provider]:
    """Every provider a trader may pick, by name: the settings default first, then staff's, then offline."""
    providers = {settings.LLM_PROVIDER_NAME: default_provider()}
    for row in ModelProvider.objects.exclude(name__in=reserved_provider_names()):
        providers[row.name] = provider_from_row(row)
    providers[OFFLINE_PROVIDER] = offline_provider()
    return providers


def resolve_model(provider_name: str = "", model: str = "") -> tuple[Provider, str]:
    """The provider and model a config names; raises UnknownModel with what may be picked instead.

    No provider: the offline analyst for its own model name, else the first provider allowing the
    model (the default provider first). No model: the provider's first model.
    """
    default = default_provider()
    if provider_name == OFFLINE_PROVIDER or (not provider_name and model == settings.OFFLINE_MODEL_NAME):
        return _checked(offline_provider(), model)
    if provider_name in ("", default.name) and default.allows(model or settings.LLM_MODEL):
        return default, model or settings.LLM_MODEL  # the common case, without a database query
    providers = all_providers()
    if provider_name:
        if provider_name not in providers:
            raise UnknownModel(f"unknown provider {provider_name!r}; pick one of: {', '.join(providers)}")
        return _checked(providers[provider_name], model)
    model = model or settings.LLM_MODEL
    for provider in providers.values():
        if provider.allows(model):
            return provider, model
    offered = sorted({name for provider in providers.values() for name in provider.models})
    raise UnknownModel(f"no provider offers model {model!r}; models offered here: {', '.join(offered)}")


def _checked(provider: Provider, model: str) -> tuple[Provider, str]:
    model = model or (provider.models[0] if provider.models else "")
    if not provider.allows(model):
        offered = ", ".join(provider.models) or "none"
        raise UnknownModel(f"provider {provider.name!r} does not offer model {model!r}; its models: {offered}")
    return provider, model


def model_choice_problem(provider_name: str = "", model: str = "") -> str | None:
    """Why this provider and model cannot be picked, or None."""
    try:
        resolve_model(provider_name, model)
    except UnknownModel as exc:
        return str(exc)
    return None


def offered_model_problem(model: str) -> str | None:
    """Why no provider here offers `model`, or None: how a live workflow's model names are checked."""
    return model_choice_problem("", model)


def model_price(provider_name: str, model: str) -> tuple[Decimal, Decimal] | None:
    """USD per 1M (input, output) tokens of `model` as served by the named provider; None when unknown."""
    if provider_name == OFFLINE_PROVIDER:
        provider = offline_provider()
    elif provider_name == settings.LLM_PROVIDER_NAME:
        provider = default_provider()
    else:
        provider = all_providers().get(provider_name)
    return provider.price(model) if provider else None


def provider_choices() -> list[dict]:
    """What a trader may pick: provider names and their models, never a URL or a key."""
    return [
        {"name": provider.name, "models": list(provider.models), "offline": provider.offline}
        for provider in all_providers().values()
    ]
