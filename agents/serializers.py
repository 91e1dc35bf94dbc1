"""API shapes of the AI records: agent templates, conversation messages and the team config."""

from rest_framework import serializers

from agents.models import AgentMessage, AgentTemplate
from agents.team_config import effective_autogen_config, validate_autogen_config


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
    """A strategy's team config: validated by agents.team_config, field errors keyed by path."""

    def to_internal_value(self, data):
        errors = validate_autogen_config(data)
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def to_representation(self, instance):
        return effective_autogen_config(instance)
