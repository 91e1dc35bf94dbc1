"""API tokens for programs: obtain one with a password, or see and rotate your own."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView


@transaction.atomic
def rotate_token(user) -> Token:
    """Replaces the user's token: the old key stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def token_payload(token: Token | None) -> dict:
    if token is None:
        return {"token": None, "created": None}
    return {"token": token.key, "created": token.created}


class MyTokenView(APIView):
    """GET shows the signed-in user's token (null when none yet); POST issues a new one."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(token_payload(Token.objects.filter(user=request.user).first()))

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        return Response(token_payload(rotate_token(request.user)), status=status.HTTP_201_CREATED)
