/*
 * Management API: the handlers of a relation between an item and a set of others (a role and
 * its users, applications and scopes; an organization and its members; an organization role and
 * the scopes it grants), shared by every module that serves one. A module describes each
 * relation once in a struct latch_mgmt_relation (its statements, body key, path parameters,
 * query and answers) and its route table passes that description to the four handlers here:
 * list, add, replace and remove. The statements follow latch_mgmt_run()'s convention
 * (mgmt_internal.h). Loop thread of the request.
 */
#include <string.h>

#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

/* The id of the relation's owner from the path; answers 400 and returns NULL when malformed. */
static const char *owner_id(struct latch_request *req, const struct latch_mgmt_relation *rel)
{
    return latch_mgmt_param_id(req, "id", rel->owner_entity);
}

/* Runs ops for the owner `id` and answers: 200 with the answering row's body, 201 and 204
 * without one. */
static void run(struct latch_request *req, const struct latch_mgmt_relation *rel,
                const struct latch_store_op *ops, int nops, const char *id, int status, bool list,
                bool conflict)
{
    /* A change of the relation: its event, if it has one, in the same transaction, last. */
    struct latch_store_op hooked[3];
    if (!list && rel->hook != NULL) {
        struct latch_mgmt_hook_spec spec = *rel->hook;
        if (req->method == LATCH_HTTP_DELETE)
            spec.route = latch_arena_printf(req->arena, "%s/:%s", rel->hook->route, rel->param);
        if (spec.route == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return;
        }
        for (int i = 0; i < nops; i++)
            hooked[i] = ops[i];
        if (!latch_mgmt_hook_op(req, &hooked[nops], &spec, id, status))
            return;
        ops = hooked;
    }
    struct latch_mgmt_reply reply = {
        .status = status,
        .op = nops - 1,
        .entity = rel->owner_entity,
        .id = id,
        .problems = rel->problems,
        .list = list,
        .no_body = status != 200,
        .conflict_code = conflict ? rel->conflict_code : NULL,
        .conflict_message = conflict ? rel->conflict_message : NULL,
    };
    latch_mgmt_run(req, ops, ops == hooked ? nops + 1 : nops, &reply);
}

void latch_mgmt_relation_list(struct latch_request *req, void *arg)
{
    const struct latch_mgmt_relation *rel = arg;
    const char *limit, *offset, *search = NULL;
    const char *id = owner_id(req, rel);
    if (id == NULL || !latch_mgmt_paginate(req, rel->page_optional, &limit, &offset))
        return;
    bool ok = true;
    switch (rel->search) {
    case LATCH_MGMT_SEARCH_NONE:
        break;
    case LATCH_MGMT_SEARCH_PATTERN:
        ok = latch_mgmt_search(req, &search);
        break;
    case LATCH_MGMT_SEARCH_USERS:
        ok = latch_mgmt_search_users(req, &search);
        break;
    case LATCH_MGMT_SEARCH_Q:
        ok = latch_mgmt_search_q(req, &search);
        break;
    }
    if (!ok)
        return;
    struct latch_store_op op = {rel->list, {req->tenant->id, id, limit, offset, search}};
    run(req, rel, &op, 1, id, 200, true, false);
}

/* POST (add: at least one id) and PUT (replace: [] removes all) of {<ids_key>: [ids]}. */
static void set(struct latch_request *req, const struct latch_mgmt_relation *rel, bool replace)
{
    const char *id = owner_id(req, rel);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *ids;
    bool ok = latch_mgmt_get_ids(&body, rel->ids_key, LATCH_MGMT_REQUIRED, !replace, &ids);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct latch_store_op ops[2] = {
        {replace ? rel->replace : rel->add, {req->tenant->id, id, ids}},
        {rel->add_answer, {req->tenant->id, id}},
    };
    if (replace)
        run(req, rel, ops, 1, id, 204, false, false);
    else if (rel->add_answer != NULL)
        run(req, rel, ops, 2, id, 200, false, true);
    else
        run(req, rel, ops, 1, id, 201, false, true);
}

void latch_mgmt_relation_add(struct latch_request *req, void *arg)
{
    set(req, arg, false);
}

void latch_mgmt_relation_replace(struct latch_request *req, void *arg)
{
    set(req, arg, true);
}

void latch_mgmt_relation_remove(struct latch_request *req, void *arg)
{
    const struct latch_mgmt_relation *rel = arg;
    const char *id = owner_id(req, rel);
    const char *other = id ? latch_mgmt_param_id(req, rel->param, rel->param_entity) : NULL;
    if (other == NULL)
        return;
    struct latch_store_op op = {rel->remove, {req->tenant->id, id, other}};
    run(req, rel, &op, 1, id, 204, false, false);
}
