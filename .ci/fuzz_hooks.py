"""Schemathesis hooks for .ci/fuzz: the positive-data check, rule by rule.

Every request the API document allows must be accepted (positive_data_acceptance). The
document states every rule of the service that a JSON Schema can state: `explanation`
only with kind `recommendation_explanation` (if/then/else), exactly one content form
(oneOf), exactly one of `?sha256=` and `?text=` (one query object with oneOf), non-empty
content and bodies, the kinds Content Credentials are made for, the characters of an issuer
name, and no `url` where the service does not fetch URLs. The rules below cannot be
stated in a schema; a schema-valid request refused by one of them, with its own error
code and message, is not a failure. Anything else refused is.
"""

import schemathesis

# (method or None for any, path template or None for any, error code, words of the message)
UNSTATEABLE = [
    # The personal-data guard: e-mail addresses, phone numbers, postal addresses in any
    # free text (docs/contract.md); no pattern can say "not a phone number".
    (None, None, "personal_data", ""),
    # A tree size up to the published one: the bound moves with every stamp. And bounds
    # between two parameters (an index inside its tree, a first size up to the second,
    # a page's end after its start), which a schema of one parameter cannot name.
    ("GET", "/v1/log/entries", "invalid_range", ""),
    ("GET", "/v1/log/proof/inclusion", "invalid_proof_request", "beyond the published tree size"),
    ("GET", "/v1/log/proof/inclusion", "invalid_proof_request", "is not in a tree of"),
    ("GET", "/v1/log/proof/consistency", "invalid_proof_request", "beyond the published tree size"),
    ("GET", "/v1/log/proof/consistency", "invalid_proof_request", "is larger than the second tree size"),
    # A media type naming a parameter twice (in any letter case): a regular expression
    # cannot compare names case-insensitively.
    (None, None, "invalid_field", "is given twice"),
    (None, None, "invalid_metadata", "is given twice"),
    # Bytes that are an image of their type: no schema describes a valid PNG. And a
    # metadata media_type that must agree with the request's Content-Type header.
    ("POST", "/v1/credentials", "invalid_image", ""),
    ("POST", "/v1/credentials", "invalid_metadata", "does not match the request's Content-Type"),
    # The metadata's kind must suit the body: `image` for an image, a text kind for a
    # text. The header's schema cannot depend on the body's media type.
    ("POST", "/v1/credentials", "invalid_metadata", "an image body is an image"),
    ("POST", "/v1/credentials", "invalid_metadata", "a text/plain body is a text"),
    # A signed leaf must fit a tlog-tiles bundle entry (65,535 bytes); the size of the
    # canonical statement depends on every field at once.
    (None, None, "statement_too_large", ""),
    # A body of at least one byte: said for application/octet-stream, but a body of
    # another media type (the `*/*` range) has no schema a generator could hold to it.
    ("POST", "/v1/stamps/upload", "invalid_content", "empty"),
    ("POST", "/v1/verify/upload", "invalid_content", "empty"),
    # A soft-binding value must be base64 of well-formed ISCC-UNITs (IEP-0020) holding a
    # Content-Code: a binary structure no string pattern describes.
    ("GET", "/sbr/v1/matches/byBinding", "invalid_value", ""),
    ("POST", "/sbr/v1/matches/byBinding", "invalid_value", ""),
    # text/* bodies must be UTF-8, and no body may be empty; the media-type ranges have no
    # schema a generator holds to.
    ("POST", "/sbr/v1/matches/byContent", "invalid_content", ""),
]


@schemathesis.check
def positive_data_accepted_or_refused_by_an_unstateable_rule(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    # Not a judgement on the data: accepted, unauthorised, absent, in conflict with what
    # exists (a backup name taken), rate-limited; a 5xx is not_a_server_error's to report.
    if status < 400 or status in (401, 403, 404, 409, 429) or status >= 500:
        return None
    try:
        error = response.json().get("error") or {}
    except Exception:
        error = {}
    code, message = error.get("code", ""), error.get("message", "")
    for method, path, rule_code, words in UNSTATEABLE:
        if (method is None or method == case.method.upper()) and (path is None or path == case.path):
            if code == rule_code and words in message:
                return None
    raise AssertionError(
        f"A request the API document allows was refused: {status} {code}: {message}\n"
        "Either the document should say what the service enforces, or the service should accept it."
    )
