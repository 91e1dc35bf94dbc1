"""`{% sandbox_banner %}`: how untrusted code runs here, for the admin's index."""

from django import template

from agents.sandbox import sandbox_status

register = template.Library()


@register.inclusion_tag("admin/sandbox_banner.html")
def sandbox_banner():
    return {"sandbox": sandbox_status()}
