"""API tokens for programs (django-rest-knox): stored only as hashes, shown once, expiring, revocable.

A program obtains a token with a password; the signed-in user sees when theirs was issued and
when it expires, rotates it (every earlier token stops working), or revokes it.
"""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


@transaction.atomic
def rotate_token(user) -> tuple[AuthToken, str]:
    """Revokes the user's tokens and issues one; returns it and its key, which is never readable again."""
    revoke_tokens(user)
    return issue_token(user)


def issue_token(user) -> tuple[AuthToken, str]:
    return AuthToken.objects.create(user=user)


def revoke_tokens(user) -> int:
    return AuthToken.objects.filter(user=user).delete()[0]


def current_token(user) -> AuthToken | None:
    return AuthToken.objects.filter(user=user).order_by("-created").first()


def token_payload(token: AuthToken | None, key: str | None = None) -> dict:
    """What a caller may know of a token: the key only at issue, its first characters to tell it apart."""
    if token is None:
        return {"token": None, "prefix": None, "created": None, "expiry": None}
    return {"token": key, "prefix": token.token_key[:8], "created": token.created, "expiry": token.expiry}


class ObtainTokenView(APIView):
    """POST username and password: a new token (field errors on 400)."""

    permission_classes = [AllowAny]  # the default authentication stays, so a browser session's POST needs CSRF

    @extend_schema(request=AuthTokenSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, key = issue_token(serializer.validated_data["user"])
        return Response(token_payload(token, key))


class MyTokenView(APIView):
    """GET when the signed-in user's token was issued and expires; POST rotates it; DELETE revokes it."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(token_payload(current_token(request.user)))

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(token_payload(*rotate_token(request.user)), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        revoke_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
