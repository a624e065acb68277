/*
 * audit/: the audit log (Logto's logs): who signed in, from where, which token went to whom, who
 * changed what. See docs/events.md "Audit log" for the keys and the payload.
 *
 * A handler says, once it knows, that its request is an event worth recording
 * (latch_audit_track) and adds what it learns on the way (latch_audit_note: the user, the
 * application, the interaction event...). When the request is answered, its entry is made from
 * that, the answer's status (2xx/3xx Success, else Error with the error the client got) and the
 * request's client IP (LATCH_TRUSTED_PROXIES honoured) and User-Agent. Nothing is written on the
 * request's path: the entry goes into a bounded queue of the loop thread, which a writer of that
 * loop sends in batches (one multi-row INSERT per tenant, at most every LATCH_AUDIT_LOG_FLUSH_MS)
 * over a PostgreSQL connection of its own. When the queue is full (the database slower than the
 * events for long), new entries are dropped, counted in latch_audit_log_dropped_total and said in
 * a rate-limited log line: the audit log never slows sign-ins or token issuance down.
 *
 * The payload never holds a secret, password, code or token: only the fields noted here (ids,
 * names of things, the interaction event, the granted scope) and the error the client saw.
 *
 * Threading: everything here runs on the request's loop thread.
 */
#ifndef LATCH_AUDIT_AUDIT_H
#define LATCH_AUDIT_AUDIT_H

#include <stdbool.h>

#include "http/http.h"

/* Payload members a handler may note (the name in the payload in brackets). */
enum latch_audit_field {
    LATCH_AUDIT_USER_ID = 0,       /* userId */
    LATCH_AUDIT_APPLICATION_ID,    /* applicationId: the OIDC client, or the Management API
                                    * caller's machine-to-machine application */
    LATCH_AUDIT_ORGANIZATION_ID,   /* organizationId */
    LATCH_AUDIT_CONNECTOR_ID,      /* connectorId */
    LATCH_AUDIT_CONNECTOR_VERSION, /* connectorVersion */
    LATCH_AUDIT_EVENT,             /* interactionEvent: SignIn, Register, ForgotPassword */
    LATCH_AUDIT_VERIFICATION_ID,   /* verificationId */
    LATCH_AUDIT_SCOPE,             /* scope: what was granted or asked for */
    LATCH_AUDIT_TARGET_ID,         /* targetId: the item a Management API change names */
    LATCH_AUDIT_PATH,              /* path: the Management API route's path (no query) */
    LATCH_AUDIT_FIELDS
};

/* The key placeholder replaced with the noted interaction event. */
#define LATCH_AUDIT_EVENT_PLACEHOLDER "{event}"

/*
 * Records an entry with `key` (a static string; Logto's log keys such as
 * "ExchangeTokenBy.ClientCredentials" or "Interaction.{event}.Submit") when req is answered.
 * "{event}" in the key is replaced with the noted LATCH_AUDIT_EVENT; an entry whose key still
 * needs one when the request is answered is not recorded (no interaction: nothing to record).
 * Calling it again changes the key; fields noted before are kept. Does nothing when the audit
 * log is off (LATCH_AUDIT_LOG=off).
 */
void latch_audit_track(struct latch_request *req, const char *key);

/* Sets a payload member of req's entry (value copied, cut at 256 bytes; NULL removes it).
 * Does nothing when req is not tracked. */
void latch_audit_note(struct latch_request *req, enum latch_audit_field field, const char *value);

/* As latch_audit_note, but only when the field was not noted yet. */
void latch_audit_note_default(struct latch_request *req, enum latch_audit_field field,
                              const char *value);

/* Whether req is tracked. */
bool latch_audit_tracked(const struct latch_request *req);

/* The key req is tracked under (as given to latch_audit_track), NULL when not tracked. */
const char *latch_audit_key(const struct latch_request *req);

/* ---- the periodic retention task (retention.c), on the main thread ---- */

struct event_base;
struct latch_store;
struct latch_config;
struct latch_audit_retention;

/* Every LATCH_LOG_MAINTENANCE_SECONDS (and a second after start), calls latch_logs_maintain()
 * through store (the main thread's): the coming days' partitions are created and those past
 * LATCH_LOG_RETENTION_DAYS dropped, by one node of the cluster at a time. NULL when out of
 * memory. */
struct latch_audit_retention *latch_audit_retention_start(struct event_base *base,
                                                          struct latch_store *store,
                                                          const struct latch_config *cfg);
/* Stops the task (NULL is fine); after its store was freed (a call in flight has completed). */
void latch_audit_retention_free(struct latch_audit_retention *r);

#endif
