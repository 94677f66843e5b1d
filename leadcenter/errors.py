"""Every error the API answers with, declared once: its id (stable: clients branch on it), its HTTP status and what
it means. The catalogue is in the OpenAPI document (``components.schemas.Error``, ``x-error-ids``).

``ApiError(error_id, message, fields=None, headers=None)`` takes its status from the catalogue; an id that is not
declared here is a programming error (``tests/unit/test_errors.py`` scans the source for every one raised). This
module is neutral (no web framework): domains raise it, the web layer renders it as
``{"status", "error", "message", "fields", "request_id"}``.
"""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str]] = {
    # -- the request itself
    "json-required": (415, "the body must be JSON, sent with Content-Type: application/json"),
    "malformed-json": (400, "the body is not valid JSON, or is nested too deeply"),
    "invalid-fields": (422, "some fields are not valid: `fields` maps each one's path to what is wrong with it"),
    "unsupported-media-type": (415, "an upload's Content-Type is none of the media types the endpoint takes"),
    "empty-upload": (400, "an upload endpoint got an empty body"),
    "websocket-required": (426, "the path is a websocket: open it with an Upgrade: websocket request"),
    "conflict": (409, "the write met data saved meanwhile by another request; reload and try again"),
    "internal-error": (500, "something went wrong on the server; the request id is in its log"),
    # -- werkzeug's own refusals, answered in the same shape (their id is their name)
    "method-not-allowed": (405, "the path does not take this method; Allow lists those it takes"),
    "request-timeout": (408, "the request body did not arrive in time"),
    "request-entity-too-large": (413, "the body is larger than the endpoint takes"),
    "request-uri-too-long": (414, "the path and query are longer than the server reads"),
    # -- who is calling
    "not-signed-in": (401, "no session (sign in with POST /api/v1/session) and no API key"),
    "wrong-credentials": (401, "sign-in: the email or the password is wrong"),
    "invalid-api-key": (401, "the API key is revoked, mistyped or unknown"),
    "too-many-attempts": (429, "too many failed sign-ins; Retry-After says when to try again"),
    "csrf-token-missing": (403, "an unsafe request with a session must send X-CSRF-Token from GET /api/v1/session"),
    "forbidden": (403, "the caller's role in the company is below what the endpoint needs"),
    "owner-only": (403, "only the installation owner (the person running the server) may do this; never an API key"),
    "origin-required": (403, "a websocket opened without Origin: browsers send it, other clients use an API key"),
    "origin-not-allowed": (403, "a websocket opened from a page of an origin that is not allowed"),
    "company-not-selected": (409, "signed in, but no company picked yet (PUT /api/v1/session/company)"),
    "no-company": (403, "the account belongs to no company yet"),
    "not-a-member": (403, "the account does not belong to that company"),
    # -- rows
    "not-found": (
        404,
        ("no such object in the caller's company (another company's id answers the same), or no such path"),
    ),
    "changed": (409, "the object was changed by someone else since the `version` sent: reload it and redo the change"),
    "in-use": (409, "the object is still used by others (named in the message): change or delete those first"),
    # -- accounts
    "own-account": (409, "an admin cannot remove or demote their own account; another admin can"),
    "last-admin": (409, "the company would be left without an admin"),
    "already-a-member": (409, "the email is already a user of the company"),
    "already-invited": (409, "the email has an unanswered invitation to the company already"),
    "shared-account": (409, "the account also belongs to another company, so this company cannot change it"),
    "already-an-agent": (409, "the user is an agent of the company already"),
    "inactive": (409, "the account is deactivated: reactivate it first"),
    "link-invalid": (404, "the one-time link was used already, expired, or never existed: ask for a new one"),
    "password-kept": (409, "the invited account has a password of its own: its owner signs in to accept"),
    # -- agents
    "not-an-agent": (409, "the caller has no agent profile in the company, and the endpoint is an agent's"),
    "no-softphone": (404, "the agent has no browser softphone"),
    "on-a-call": (409, "the change must wait until the agent's call has ended"),
    "agent-offline": (409, "the agent is Offline: they choose Available to answer calls"),
    # -- trunks, tracking numbers, leads
    "address-taken": (409, "another trunk has this address and port"),
    "number-taken": (409, "the number is another lead's, or a tracking number already"),
    "lead-merged": (409, "the lead was merged into another one: change that one"),
    "merge-refused": (409, "the two leads cannot be merged (the message says why)"),
    # -- interactions and calls
    "not-a-call": (409, "the interaction is not a call, or not one this verb applies to"),
    "not-incoming": (409, "the interaction is no longer waiting"),
    "not-active": (409, "the call is not in progress"),
    "not-offered": (403, "the call's flow does not offer calls to the caller"),
    "not-your-call": (403, "only the agent on the call, or a supervisor, can do this"),
    "call-gone": (409, "the call ended or was answered meanwhile"),
    "call-not-placed": (502, "Asterisk did not place the outbound call; try again"),
    "call-not-transferred": (502, "Asterisk did not move the call to the transfer's target (it ended meanwhile?)"),
    "illegal-transition": (409, "the interaction's status does not allow this move now"),
    # -- consult transfers and conferences
    "consult-going-on": (409, "a consult is already going on for the call: complete, merge or cancel it first"),
    "consult-not-started": (502, "Asterisk did not start the consult (the call ended meanwhile); try again"),
    "no-consult": (409, "no consult is going on, or the consulted party has not answered or has left"),
    "party-not-added": (502, "Asterisk did not bring the colleague or number into the call; try again"),
    "own-leg": (409, "the party is the caller's own leg: hang up instead"),
    "colleague-unavailable": (409, "the colleague is not Available (on a call, wrap-up, away, offline, unreachable)"),
    "not-your-voicemail": (403, "the interaction is not a message in the caller's own mailbox"),
    # -- monitoring: listen, whisper, barge
    "monitoring-not-allowed": (403, "the company's setting does not let the caller's role monitor calls"),
    "no-phone": (
        409,
        "the caller has no agent profile with that device to listen on (a browser softphone or desk phone)",
    ),
    "monitor-not-started": (
        502,
        "Asterisk did not ring the supervisor's device into the call (not registered, or the call ended); try again",
    ),
    "monitor-ended": (409, "the monitor has ended: start a new one"),
    "own-call": (409, "the call is the caller's own: there is nothing to monitor"),
    # -- texts
    "not-a-text-thread": (409, "the interaction is not a text conversation"),
    "empty-text": (422, "the message is empty"),
    "text-too-long": (422, "the message needs more SMS parts than a text may have"),
    "invalid-number": (422, "the recipient is not a valid phone number"),
    "texting-unavailable": (409, "no SMSC is configured to send as this tracking number"),
    "opted-out": (409, "the recipient opted out of texts from the company (they text START to opt back in)"),
    # -- website chat
    "not-a-conversation": (409, "the interaction is neither a text conversation, a chat nor a chat form"),
    "chat-ended": (409, "the chat has ended: nothing more can be sent in it"),
    "form-no-reply": (409, "a chat's offline form takes no reply: call or text the lead back"),
    "chat-open": (409, "the visitor's chat is still going: a new one cannot start"),
    "no-chat": (409, "the visitor has no chat going"),
    "nobody-online": (409, "no agent can answer a chat now (or it is outside the chat hours): the offline form"),
    "prechat-required": (422, "a pre-chat field the company requires is missing (`fields` names it)"),
    "prechat-invalid": (422, "a pre-chat phone or email is not valid (`fields` names it)"),
    "contact-required": (422, "the offline form needs a phone number or an email to get back to the visitor"),
    "invalid-frame": (400, "a visitor socket's frame is not JSON, or not one of the protocol's frames"),
    "too-many-messages": (429, "a visitor sent more messages than the rate allows; wait a few seconds"),
    # -- website visits
    "too-many-visits": (429, "the snippet's collection rate of this address or this company is spent; Retry-After"),
    "too-many-forms": (429, "the site's form rate of this address or this company is spent; Retry-After"),
    # -- prompts
    "asterisk-refused": (422, "Asterisk did not take the dialplan or flow (its words in the message): nothing changed"),
    "asterisk-unavailable": (503, "Asterisk could not be asked to read the dialplan now: nothing changed; try again"),
    "converter-missing": (503, "sox is not installed on the server, so uploaded audio cannot be converted"),
    "controller-unavailable": (503, "no controller node is connected to carry out the call verb: nothing was done"),
    "busy": (503, "the database is busy with other writes; Retry-After says when to try again"),
    "database-unavailable": (503, "the database did not answer a shared limit (several nodes); Retry-After"),
    "converter-busy": (503, "every audio conversion slot is taken; Retry-After says when to try again"),
}

# The ids the web framework's own refusals get (web/api.py renders werkzeug's HTTPExceptions by name); every other
# declared id is raised as an ApiError somewhere.
FRAMEWORK_ERRORS = {
    "not-found",
    "method-not-allowed",
    "request-timeout",
    "request-entity-too-large",
    "request-uri-too-long",
}


class ApiError(Exception):
    """A refusal, answered with its id's status; ``fields`` maps a field's path to what is wrong with it."""

    def __init__(self, error_id: str, message: str, fields: dict | None = None, headers: dict | None = None):
        if error_id not in ERRORS:
            raise ValueError(f"undeclared API error id {error_id!r}: declare it in leadcenter/errors.py")
        super().__init__(message)
        self.status, self.error, self.message = ERRORS[error_id][0], error_id, message
        self.fields = fields or {}
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError("not-found", f"no such {what}")


def invalid(fields: dict[str, str], message: str = "some fields are not valid") -> ApiError:
    return ApiError("invalid-fields", message, fields)
