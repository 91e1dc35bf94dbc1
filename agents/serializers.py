"""API shapes of the AI records: agent templates, conversation messages and the team config."""

from rest_framework import serializers

from agents.models import AgentMessage, AgentTemplate
from agents.team_config import effective_autogen_config, validate_autogen_config, writable_config


class AgentTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentTemplate
        fields = ["name", "description", "default_prompt", "recommended_model", "tools", "required"]


class AgentMessageSerializer(serializers.ModelSerializer):
    """One message of a team conversation, in the field names clients rely on."""

    message_content = serializers.CharField(source="content")
    timestamp = serializers.DateTimeField(source="created_at")
    tokens_used = serializers.IntegerField(source="tokens")

    class Meta:
        model = AgentMessage
        fields = [
            "id",
            "symbol",
            "agent_name",
            "message_type",
            "message_content",
            "round",
            "timestamp",
            "tokens_used",
            "model",
            "cost",
            "latency_ms",
            "stance",
            "confidence",
        ]


class AutogenConfigSerializer(serializers.Serializer):
    """A strategy's team config: validated by agents.team_config, field errors keyed by path.

    What GET shows can be PUT back unchanged: the read-only `required` and `tools` are dropped.
    """

    def to_internal_value(self, data):
        errors = validate_autogen_config(data)
        if errors:
            raise serializers.ValidationError(errors)
        return writable_config(data)

    def to_representation(self, instance):
        return effective_autogen_config(instance)


class ModelProviderChoiceSerializer(serializers.Serializer):
    """A provider as a trader sees it: its name and the models it offers, never its URL or key."""

    name = serializers.CharField()
    models = serializers.ListField(child=serializers.CharField())
    offline = serializers.BooleanField(help_text="The offline analyst answers: no network, no cost.")
