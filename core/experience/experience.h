/*
 * experience/: how a person signs in or registers during an authorization request, in Logto's
 * shapes. /oidc/auth stores the pending request as an `interactions` row and gives the browser
 * its id in the cookie latch_interaction_<tenant>; the Experience API under
 * <tenant endpoint>/api/experience (authenticated by that cookie, not by a bearer token; every
 * mutating call also carries the interaction's CSRF token in X-CSRF-Token) verifies a password or
 * creates the user, identifies who signs in (interactions.result_user_id) and answers
 * POST /api/experience/submit with {"redirectTo": "<tenant endpoint>/oidc/auth/resume"}, where
 * /oidc finishes the request.
 *
 * Also here: the hosted pages <tenant endpoint>/sign-in and /register (core/ui/, compiled into
 * the binary; their assets under the node path /ui/<file>) and the Management API's
 * /api/sign-in-exp.
 *
 * Routes:
 *   GET  /api/experience/interaction                 the interaction's public state
 *   PUT  /api/experience                             {interactionEvent} starts over → 204
 *   PUT  /api/experience/interaction-event           {interactionEvent} keeps verifications → 204
 *   POST /api/experience/verification/password       {identifier:{type,value}, password}
 *   POST /api/experience/verification/new-password-identity   (registration)
 *   POST /api/experience/identification              {verificationId} → 204 / 201
 *   POST /api/experience/submit                      → {redirectTo}
 *   GET  /sign-in, GET /register                     the hosted page
 *   (the logout confirmation page is rendered here too, for /oidc/session/end)
 *   GET  /ui/:file                                   its assets (node route)
 *   GET, PATCH /api/sign-in-exp                      Management API (bearer token)
 */
#ifndef LATCH_EXPERIENCE_EXPERIENCE_H
#define LATCH_EXPERIENCE_EXPERIENCE_H

#include "http/http.h"
#include "util/error.h"

/* signUp when a tenant has not set it (schema/0004's column default; keep them equal). */
#define LATCH_XP_DEFAULT_SIGN_UP                                                                   \
    "{\"identifiers\": [\"username\"], \"password\": true, \"verify\": false}"

/*
 * SQL: the text[] of what the tenant's signUp makes mandatory and the user row u lacks, in
 * Logto's MissingProfile names (username, email, phone, emailOrPhone, password), empty when
 * nothing is missing; s is the sign_in_experiences row (NULL when the tenant has none). A social
 * identity stands in for a password, as in Logto. Submit answers 422 user.missing_profile with
 * it, and /oidc/auth/resume will not finish a sign-in while it is not empty, so a client that
 * skips submit gets nobody in.
 */
#define LATCH_XP_MISSING_PROFILE_SQL(u, s)                                                         \
    "array_remove(ARRAY["                                                                          \
    " CASE WHEN " LATCH_XP_SIGN_UP_SQL(                                                            \
        s) "->'identifiers' ? 'username'"                                                          \
           " AND " u ".username IS NULL THEN 'username' END,"                                      \
           " CASE WHEN " LATCH_XP_SIGN_UP_SQL(                                                     \
               s) "->'identifiers' ?& ARRAY['email', 'phone']"                                     \
                  " THEN CASE WHEN " u ".primary_email IS NULL AND " u ".primary_phone IS NULL"    \
                  " THEN 'emailOrPhone' END"                                                       \
                  " WHEN " LATCH_XP_SIGN_UP_SQL(                                                   \
                      s) "->'identifiers' ? 'email'"                                               \
                         " AND " u ".primary_email IS NULL THEN 'email'"                           \
                         " WHEN " LATCH_XP_SIGN_UP_SQL(                                            \
                             s) "->'identifiers' ? 'phone'"                                        \
                                " AND " u ".primary_phone IS NULL THEN 'phone' END,"               \
                                " CASE WHEN " LATCH_XP_SIGN_UP_SQL(                                \
                                    s) "->'password' = 'true'::jsonb"                              \
                                       " AND " u ".password_encrypted IS NULL AND " u              \
                                       ".identities = '{}'::jsonb"                                 \
                                       " THEN 'password' END"                                      \
                                       "]::text[], NULL)"
#define LATCH_XP_SIGN_UP_SQL(s) "coalesce(" s ".sign_up, '" LATCH_XP_DEFAULT_SIGN_UP "'::jsonb)"

/* A hidden field of the logout confirmation form; value NULL: left out. */
struct latch_xp_hidden {
    const char *name;
    const char *value;
};

/*
 * Answers with the logout confirmation page (core/ui/logout.html; OIDC RP-Initiated Logout 1.0
 * §2, like node-oidc-provider's logoutSource), in the tenant's language: a form that POSTs to
 * action (a path) with xsrf, the fields, and logout=yes or logout=no. Every string is borrowed
 * until the response is sent (the request's arena is fine). Loop thread.
 */
void latch_xp_logout_page(struct latch_request *req, const char *action, const char *xsrf,
                          const char *ui_locales, const struct latch_xp_hidden *fields,
                          int nfields);

/* Registers every route above. Main thread, before the server starts. */
latch_rc latch_experience_register(struct latch_server *srv) LATCH_MUST_CHECK;

#endif
