/* The audit log's bounded queue and batches; see queue.h. */
#include <stdlib.h>
#include <string.h>

#include "audit/queue.h"

latch_rc latch_audit_queue_init(struct latch_audit_queue *q, size_t cap, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    if (cap == 0)
        return LATCH_FAIL;
    q->ring = calloc(cap, sizeof(*q->ring));
    if (q->ring == NULL)
        return LATCH_FAIL;
    q->cap = cap;
    q->max_bytes = max_bytes;
    return LATCH_OK;
}

void latch_audit_queue_clear(struct latch_audit_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->ring[(q->head + i) % q->cap].row);
    free(q->ring);
    memset(q, 0, sizeof(*q));
}

bool latch_audit_queue_push(struct latch_audit_queue *q, const char *tenant_id, char *row,
                            size_t len)
{
    size_t tlen = tenant_id != NULL ? strlen(tenant_id) : 0;
    if (tlen == 0 || tlen > LATCH_AUDIT_TENANT_MAX || len == 0 || q->count == q->cap ||
        len > q->max_bytes - q->bytes)
        return false;
    struct latch_audit_entry *e = &q->ring[(q->head + q->count) % q->cap];
    memcpy(e->tenant_id, tenant_id, tlen + 1);
    e->row = row;
    e->len = len;
    q->count++;
    q->bytes += len;
    return true;
}

latch_rc latch_audit_batch_init(struct latch_audit_batch *b, size_t max_entries)
{
    memset(b, 0, sizeof(*b));
    if (max_entries == 0)
        return LATCH_FAIL;
    b->entries = calloc(max_entries, sizeof(*b->entries));
    if (b->entries == NULL)
        return LATCH_FAIL;
    b->cap = max_entries;
    return LATCH_OK;
}

void latch_audit_batch_reset(struct latch_audit_batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        free(b->entries[i].row);
    b->count = 0;
    b->ntenants = 0;
}

void latch_audit_batch_clear(struct latch_audit_batch *b)
{
    if (b->entries != NULL)
        latch_audit_batch_reset(b);
    free(b->entries);
    memset(b, 0, sizeof(*b));
}

/* The index of tenant in b's tenants, or -1. */
static int tenant_index(const struct latch_audit_batch *b, const char *tenant)
{
    for (int t = 0; t < b->ntenants; t++)
        if (strcmp(b->tenants[t], tenant) == 0)
            return t;
    return -1;
}

size_t latch_audit_batch_take(struct latch_audit_batch *b, struct latch_audit_queue *q)
{
    size_t moved = 0;
    while (q->count > 0 && b->count < b->cap) {
        struct latch_audit_entry *e = &q->ring[q->head];
        if (tenant_index(b, e->tenant_id) < 0) {
            if (b->ntenants == LATCH_AUDIT_BATCH_TENANTS)
                break;
            /* Points into b->entries once moved: the entry below is the one it names. */
            b->tenants[b->ntenants++] = b->entries[b->count].tenant_id;
        }
        b->entries[b->count++] = *e;
        q->bytes -= e->len;
        e->row = NULL;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        moved++;
    }
    return moved;
}

char *latch_audit_batch_json(const struct latch_audit_batch *b, int t, size_t *len)
{
    if (t < 0 || t >= b->ntenants)
        return NULL;
    const char *tenant = b->tenants[t];
    size_t need = 3; /* [ ] NUL */
    for (size_t i = 0; i < b->count; i++)
        if (strcmp(b->entries[i].tenant_id, tenant) == 0)
            need += b->entries[i].len + 1;
    char *out = malloc(need);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    out[n++] = '[';
    for (size_t i = 0; i < b->count; i++) {
        if (strcmp(b->entries[i].tenant_id, tenant) != 0)
            continue;
        if (n > 1)
            out[n++] = ',';
        memcpy(out + n, b->entries[i].row, b->entries[i].len);
        n += b->entries[i].len;
    }
    out[n++] = ']';
    out[n] = '\0';
    *len = n;
    return out;
}
