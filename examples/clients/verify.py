#!/usr/bin/env python3
"""Asks the Verify API whether a Kubernetes service-account token is valid for an audience, and
who it belongs to. Python 3.8 or later, standard library only.

    VERIFY_API=https://abc123defg.execute-api.eu-west-1.amazonaws.com AUDIENCE=orders.example.internal \\
      python3 verify.py "$TOKEN"        (or - to read the token from stdin)

Exit status: 0 valid (the identity is printed as JSON), 1 refused (the reason is printed),
2 the question could not be asked (usage, network, Verify API unavailable).
"""
import json
import os
import sys
import urllib.error
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the token somewhere else: refuse it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post_json(verify_api, path, body, timeout):
    request = urllib.request.Request(
        verify_api.rstrip("/") + path,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"content-type": "application/json"},
    )
    # Any status other than 200 raises HTTPError: no verdict, so deny the request.
    # 503 (with Retry-After) means no usable key set for a moment.
    with _OPENER.open(request, timeout=timeout) as response:
        if response.status != 200:
            raise urllib.error.HTTPError(request.full_url, response.status, "unexpected status", response.headers, None)
        return json.load(response)


def verify_token(token, verify_api, audience, timeout=3.0):
    """POST /verify. Returns the verdict: {"authenticated": True, "user": ..., "audiences": ...,
    "expiresAt": ..., "namespace": ..., "serviceAccount": ...} or {"authenticated": False,
    "reason": ..., "message": ...}. Raises when no verdict came back."""
    return _post_json(verify_api, "/verify", {"token": token, "audiences": [audience]}, timeout)


def token_review(token, verify_api, audience, timeout=3.0):
    """POST /apis/authentication.k8s.io/v1/tokenreviews. Returns the TokenReview; its "status"
    holds the verdict."""
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token, "audiences": [audience]},
    }
    return _post_json(verify_api, "/apis/authentication.k8s.io/v1/tokenreviews", review, timeout)


def main(argv):
    verify_api = os.environ.get("VERIFY_API")
    audience = os.environ.get("AUDIENCE")
    if not verify_api or not audience or len(argv) != 2:
        print("usage: VERIFY_API=URL AUDIENCE=AUD python3 verify.py TOKEN|-", file=sys.stderr)
        return 2
    token = sys.stdin.read().strip() if argv[1] == "-" else argv[1]
    try:
        verdict = verify_token(token, verify_api, audience)
    except (urllib.error.URLError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if verdict.get("authenticated") is True:
        print(json.dumps(verdict, indent=2))
        return 0
    print(f"refused: {verdict.get('reason')}: {verdict.get('message')}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
