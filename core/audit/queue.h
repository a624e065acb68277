/*
 * audit/queue: the bounded queue of audit-log entries that one loop thread has recorded and not
 * yet written, and the batches taken from it (pure data structures; audit.c drives them, the
 * unit tests drive them directly).
 *
 * An entry is one row, already rendered as a JSON object {"id","key","created_at","payload"}
 * (heap text the entry owns), and the tenant it belongs to. The queue is a ring bounded twice: by
 * entries and by the bytes of their rows, so neither many small entries nor a few large ones can
 * grow a loop's memory past its bound. A push that would pass either bound is refused, and the
 * caller counts the drop.
 *
 * A batch takes entries from the head, in order: at most max_entries of them, belonging to at
 * most LATCH_AUDIT_BATCH_TENANTS tenants (one INSERT per tenant, each under that tenant's
 * row-level security, in one round trip). latch_audit_batch_json() renders one tenant's rows as
 * the JSON array the INSERT reads with jsonb_to_recordset().
 *
 * Not thread-safe: a queue and its batches belong to one thread.
 */
#ifndef LATCH_AUDIT_QUEUE_H
#define LATCH_AUDIT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define LATCH_AUDIT_TENANT_MAX    21 /* tenants.id is varchar(21) */
#define LATCH_AUDIT_BATCH_TENANTS 4  /* two statements each: LATCH_STORE_MAX_OPS is 8 */

struct latch_audit_entry {
    char tenant_id[LATCH_AUDIT_TENANT_MAX + 1];
    char *row; /* owned, NUL-terminated JSON object */
    size_t len;
};

struct latch_audit_queue {
    struct latch_audit_entry *ring;
    size_t cap;       /* entries */
    size_t head;      /* index of the oldest entry */
    size_t count;     /* entries queued */
    size_t bytes;     /* sum of their row lengths */
    size_t max_bytes; /* bound on bytes */
};

/* Allocates the ring (cap >= 1 entries, rows of at most max_bytes bytes in all). */
latch_rc latch_audit_queue_init(struct latch_audit_queue *q, size_t cap,
                                size_t max_bytes) LATCH_MUST_CHECK;
/* Frees every queued row and the ring. */
void latch_audit_queue_clear(struct latch_audit_queue *q);

/* Queues a row for tenant_id, taking ownership of row (malloc'd, len bytes) on success. Returns
 * false, leaving row to the caller, when the queue is full (entries or bytes), when tenant_id is
 * not 1..21 bytes, or when len is 0. */
bool latch_audit_queue_push(struct latch_audit_queue *q, const char *tenant_id, char *row,
                            size_t len);

struct latch_audit_batch {
    struct latch_audit_entry *entries; /* owned; in queue order */
    size_t count;
    size_t cap;
    /* The tenants of the batch in order of first appearance. */
    const char *tenants[LATCH_AUDIT_BATCH_TENANTS];
    int ntenants;
};

/* Allocates room for max_entries (>= 1). */
latch_rc latch_audit_batch_init(struct latch_audit_batch *b, size_t max_entries) LATCH_MUST_CHECK;
/* Frees the rows of the batch (keeps the room). */
void latch_audit_batch_reset(struct latch_audit_batch *b);
/* Frees rows and room. */
void latch_audit_batch_clear(struct latch_audit_batch *b);

/* Moves entries from the head of q into the empty batch b: as many as fit b's room, stopping
 * before the first entry of a tenant that would be the batch's (LATCH_AUDIT_BATCH_TENANTS+1)th.
 * Returns how many were moved. */
size_t latch_audit_batch_take(struct latch_audit_batch *b, struct latch_audit_queue *q);

/* The rows of b's tenant number t as a JSON array text (malloc'd, NUL-terminated; *len set);
 * NULL when out of memory or t is out of range. */
char *latch_audit_batch_json(const struct latch_audit_batch *b, int t, size_t *len);

#endif
