"""The Content-Security-Policy header (django-csp), on every response but PDFs.

A PDF opened in the browser is shown by Chrome's viewer inside a page Chrome makes for it,
under the PDF's own policy: a strict one (object-src 'none', no inline style) leaves that
page blank. A PDF runs none of our scripts, so it needs no policy.
"""

from csp.middleware import CSPMiddleware as BaseCSPMiddleware


class CSPMiddleware(BaseCSPMiddleware):
    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/pdf"):
            return response
        return super().process_response(request, response)
