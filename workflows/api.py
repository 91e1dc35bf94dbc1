"""Workflow and strategy API: validate input, call one service, serialize the result."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tradingweb.api import VisibleToUserMixin
from workflows import services
from workflows.models import Strategy, Workflow
from workflows.serializers import (
    StepTypeSerializer,
    StrategySerializer,
    WorkflowDefinitionSerializer,
    WorkflowSerializer,
    WorkflowTemplateSerializer,
    WorkflowVersionSerializer,
)
from workflows.steps import step_catalogue
from workflows.templates import BUILTIN_TEMPLATES, TEMPLATES_BY_TYPE
from workflows.validation import validate_workflow


class ServiceErrorsMixin:
    """Turns the services' refusals into the API's answers: 400 with every error, 409 for a workflow in use."""

    def handle_exception(self, exc):
        if isinstance(exc, services.WorkflowInvalid):
            return Response(
                {"detail": f"The workflow is invalid ({len(exc.errors)} errors).",
                 "errors": [error.as_dict() for error in exc.errors]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if isinstance(exc, services.StrategyInvalid):
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, services.WorkflowInUse):
            return Response(
                {"detail": str(exc),
                 "strategies": [{"id": strategy.pk, "name": strategy.name} for strategy in exc.strategies]},
                status=status.HTTP_409_CONFLICT,
            )
        return super().handle_exception(exc)


class WorkflowViewSet(ServiceErrorsMixin, VisibleToUserMixin, viewsets.ModelViewSet):
    queryset = Workflow.objects.filter(deleted_at__isnull=True).select_related("current_version")
    serializer_class = WorkflowSerializer
    filterset_fields = ["status", "type"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("status", Workflow.Status.DRAFT) != Workflow.Status.DRAFT:
            return Response(
                {"status": ["New workflows start as drafts; activate with POST /api/workflows/{id}/activate/."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        workflow = services.workflow_create(
            owner=request.user,
            name=data["name"],
            steps=data["steps"],
            parameters=data["parameters"],
            type=data.get("type", Workflow.Type.CUSTOM),
            description=data.get("description", ""),
            note=data.get("note", ""),
        )
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        workflow = self.get_object()
        serializer = self.get_serializer(workflow, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.workflow_update(
            workflow=workflow,
            user=request.user,
            name=data.get("name"),
            description=data.get("description"),
            type=data.get("type"),
            steps=data.get("steps"),
            parameters=data.get("parameters"),
            status=data.get("status"),
            note=data.get("note", ""),
        )
        return Response(WorkflowSerializer(workflow).data)

    def destroy(self, request, *args, **kwargs):
        services.workflow_delete(workflow=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        workflow = services.workflow_clone(workflow=self.get_object(), owner=request.user)
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        workflow = services.workflow_activate(workflow=self.get_object())
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(operation_id="workflows_versions_list", responses=WorkflowVersionSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=WorkflowVersionSerializer)
    def versions(self, request, pk=None):
        versions = self.get_object().versions.select_related("created_by").order_by("-number")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(WorkflowVersionSerializer(page, many=True).data)

    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>\d+)",
            serializer_class=WorkflowVersionSerializer)
    def version(self, request, pk=None, number=None):
        version = get_object_or_404(self.get_object().versions, number=number)
        return Response(WorkflowVersionSerializer(version).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>\d+)/revert")
    def revert(self, request, pk=None, number=None):
        workflow = self.get_object()
        get_object_or_404(workflow.versions, number=number)
        services.workflow_revert(workflow=workflow, number=int(number), user=request.user)
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<a>\d+)/diff/(?P<b>\d+)")
    def diff(self, request, pk=None, a=None, b=None):
        workflow = self.get_object()
        before = get_object_or_404(workflow.versions, number=a)
        after = get_object_or_404(workflow.versions, number=b)
        return Response(services.versions_diff(before, after))

    @extend_schema(
        parameters=[OpenApiParameter("version", int, description="Version number; default: the current one")],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        workflow = self.get_object()
        version = None
        if request.query_params.get("version", "").isdigit():
            version = get_object_or_404(workflow.versions, number=request.query_params["version"])
        document = services.workflow_export(workflow=workflow, version=version)
        response = Response(document)
        response["Content-Disposition"] = f'attachment; filename="workflow-{workflow.pk}-v{document["version"]}.json"'
        return response

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter("source", str, description="Where the document came from, for the record")],
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_workflow(self, request):
        workflow = services.workflow_import(
            owner=request.user, data=request.data, source=request.query_params.get("source", "")
        )
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"], serializer_class=WorkflowDefinitionSerializer)
    def validate(self, request):
        serializer = WorkflowDefinitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        errors = validate_workflow(serializer.validated_data["steps"], serializer.validated_data["parameters"])
        return Response({"valid": not errors, "errors": [error.as_dict() for error in errors]})


class WorkflowTemplateViewSet(viewsets.ViewSet):
    """The built-in templates a new workflow can start from."""

    serializer_class = WorkflowTemplateSerializer
    lookup_field = "type"

    def list(self, request):
        return Response(WorkflowTemplateSerializer(BUILTIN_TEMPLATES, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("type", str, OpenApiParameter.PATH)])
    def retrieve(self, request, type=None):
        template = TEMPLATES_BY_TYPE.get(type)
        if template is None:
            return Response({"detail": f"No template of type {type!r}."}, status=status.HTTP_404_NOT_FOUND)
        return Response(WorkflowTemplateSerializer(template).data)


class StepTypeViewSet(viewsets.ViewSet):
    """The step catalogue with each type's config schema, for the builder."""

    serializer_class = StepTypeSerializer

    def list(self, request):
        return Response(StepTypeSerializer(step_catalogue(), many=True).data)


class StrategyViewSet(ServiceErrorsMixin, VisibleToUserMixin, viewsets.ModelViewSet):
    queryset = Strategy.objects.select_related("workflow").prefetch_related("instruments")
    serializer_class = StrategySerializer
    filterset_fields = ["active", "workflow"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        strategy = services.strategy_create(
            owner=request.user,
            name=data["name"],
            workflow=data.get("workflow_id"),
            symbols=data.get("symbols", []),
            params=data.get("params") or {},
            description=data.get("description", ""),
            active=data.get("active", True),
            human_approval=data.get("human_approval", False),
            allow_live=data.get("allow_live", False),
        )
        return Response(StrategySerializer(strategy).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        strategy = self.get_object()
        serializer = self.get_serializer(strategy, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.strategy_update(
            strategy=strategy,
            name=data.get("name"),
            workflow=data["workflow_id"] if "workflow_id" in data else services.UNCHANGED,
            symbols=data.get("symbols"),
            params=data.get("params"),
            description=data.get("description"),
            active=data.get("active"),
            human_approval=data.get("human_approval"),
            allow_live=data.get("allow_live"),
        )
        return Response(StrategySerializer(Strategy.objects.get(pk=strategy.pk)).data)
