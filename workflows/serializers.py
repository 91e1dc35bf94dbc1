"""API shapes of workflows, versions, templates and strategies (rules live in workflows.services)."""

from rest_framework import serializers

from workflows.models import Strategy, Workflow, WorkflowVersion


class WorkflowSerializer(serializers.ModelSerializer):
    steps = serializers.JSONField(default=list, help_text="[{id, type, name, config}]")
    parameters = serializers.JSONField(default=list, help_text="[{name, type, default, description}]")
    version = serializers.IntegerField(source="version_number", read_only=True)
    note = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=255)

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "type",
            "status",
            "steps",
            "parameters",
            "version",
            "imported_from",
            "note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "imported_from", "created_at", "updated_at"]


class WorkflowDefinitionSerializer(serializers.Serializer):
    """Steps and parameters to validate without saving."""

    steps = serializers.JSONField()
    parameters = serializers.JSONField(default=list)


class WorkflowVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["number", "steps", "parameters", "note", "created_by", "created_at"]
        read_only_fields = fields


class WorkflowTemplateSerializer(serializers.Serializer):
    type = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    steps = serializers.JSONField()
    parameters = serializers.JSONField()
    diagram = serializers.JSONField()


class StrategySerializer(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="workflow_id", allow_null=True, required=False)
    symbols = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    params = serializers.JSONField(required=False)

    class Meta:
        model = Strategy
        fields = [
            "id",
            "name",
            "description",
            "workflow",
            "symbols",
            "params",
            "active",
            "human_approval",
            "allow_live",
            "paused_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "paused_reason", "created_at", "updated_at"]


class StepTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.JSONField()
    defaults = serializers.JSONField()
