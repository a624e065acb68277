/*
 * The access decision behind every token: which of the scopes a client asks for it is given,
 * from what the subject holds (a person's roles on a resource, an organization member's
 * organization roles, a machine's roles). Pure functions over space-separated scope lists
 * (RFC 6749 §3.3); no allocation; any thread.
 */
#ifndef LATCH_RBAC_SCOPES_H
#define LATCH_RBAC_SCOPES_H

#include <stdbool.h>
#include <stddef.h>

/* Most scopes one request may name: the decision compares every requested scope with every held
 * one, on an event-loop thread, so the request's share of that work is bounded. */
#define LATCH_RBAC_MAX_SCOPES 256

/* What a request that names no scope at all is given. */
enum latch_rbac_unrequested {
    LATCH_RBAC_NOTHING, /* people: a scope is given only when asked for (Logto, RFC 0001) */
    LATCH_RBAC_ALL,     /* machines (client_credentials): everything held, as Logto does */
};

enum latch_rbac_result {
    LATCH_RBAC_OK,
    LATCH_RBAC_MALFORMED, /* a requested scope is not an RFC 6749 scope-token */
    LATCH_RBAC_TOO_MANY,  /* more than LATCH_RBAC_MAX_SCOPES scopes requested */
    LATCH_RBAC_TOO_LONG,  /* the answer does not fit in out */
};

/* Whether s[0..n) is an RFC 6749 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
bool latch_rbac_scope_token_ok(const char *s, size_t n);

/* Whether the space-separated list contains the scope name[0..n). NULL lists contain nothing. */
bool latch_rbac_list_has(const char *list, const char *name, size_t n);

/* Checks a requested scope list (NULL is fine) as latch_rbac_grant() does: LATCH_RBAC_OK, or
 * MALFORMED, or TOO_MANY. */
enum latch_rbac_result latch_rbac_check(const char *list);

/* The error_description of a token or authorization request whose scope parameter failed
 * latch_rbac_check() with r. */
const char *latch_rbac_describe(enum latch_rbac_result r);

/* Writes into out[0..cap) the scopes granted: every scope of `requested` that `held` contains,
 * once each, in the order requested; unheld scopes are dropped, not refused. When nothing is
 * requested (NULL, empty or only spaces) the answer follows `unrequested`: nothing, or every
 * held scope once. Either list may be NULL. out is "" on every error. */
enum latch_rbac_result latch_rbac_grant(const char *requested, const char *held,
                                        enum latch_rbac_unrequested unrequested, char *out,
                                        size_t cap);

#endif
