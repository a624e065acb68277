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
 *   GET  /ui/:file                                   its assets (node route)
 *   GET, PATCH /api/sign-in-exp                      Management API (bearer token)
 */
#ifndef LATCH_EXPERIENCE_EXPERIENCE_H
#define LATCH_EXPERIENCE_EXPERIENCE_H

#include "http/http.h"
#include "util/error.h"

/* Registers every route above. Main thread, before the server starts. */
latch_rc latch_experience_register(struct latch_server *srv) LATCH_MUST_CHECK;

#endif
