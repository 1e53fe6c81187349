"""Headers every response of the application carries.

- Content-Security-Policy (CONTENT_SECURITY_POLICY): scripts only from our own static files, so
  markup that slipped through escaping still cannot run code.
- Cache-Control: no-store (with Django's never-cache set): every page and download here shows
  library data to someone logged in, and none of it may stay in a shared or browser cache after
  logging out. Static files do not pass through here (they are served before the middleware).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.cache import add_never_cache_headers


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        add_never_cache_headers(response)
        return response
