/* CreateUser, GetUser, ListUsers, UpdateUser. Only hq manages users; a
 * technician may read their own user. The password hash never leaves the
 * service: User has no field for it. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "assign.h"
#include "kn_pagetoken.h"
#include "kn_validate.h"

#define DISPLAY_NAME_MAX    200
#define EMPLOYEE_NUMBER_MAX 64
#define REQUEST_ID_MAX      128
#define QUERY_MAX           200

kn_code assign_require_hq(kn_call *call, const char *what)
{
    if (kn_call_identity(call)->role == KN_ROLE_HQ)
        return KN_OK;
    return kn_call_error(call, KN_PERMISSION_DENIED, "only hq may %s", what);
}

Google__Protobuf__Timestamp *assign_ts(kn_arena *a, int64_t us)
{
    if (us <= 0)
        return NULL;
    Google__Protobuf__Timestamp *t = kn_arena_msg(a, &google__protobuf__timestamp__descriptor);
    t->seconds = us / 1000000;
    t->nanos = (int32_t)(us % 1000000) * 1000;
    return t;
}

Konnect__Assign__V1__User *assign_user_to_pb(kn_arena *a, const assign_user_row *u)
{
    Konnect__Assign__V1__User *p = kn_arena_msg(a, &konnect__assign__v1__user__descriptor);
    p->id = u->id;
    p->tenant_id = u->tenant_id;
    p->display_name = u->display_name;
    p->email = u->email;
    p->employee_number = u->employee_number;
    p->role = (Konnect__Assign__V1__UserRole)u->role;
    p->active = u->active;
    p->create_time = assign_ts(a, u->create_us);
    return p;
}

kn_code assign_require_active_user(kn_worker *w, kn_arena *a, const char *tenant,
                                   const char *user_id, const char *field, kn_status *st)
{
    assign_user_row u;
    kn_code c = assign_store_user_get(w->pg, a, tenant, user_id, &u, st);
    if (c == KN_NOT_FOUND)
        return kn_status_set(st, KN_NOT_FOUND, "%s: user %s not found", field, user_id);
    if (c != KN_OK)
        return c;
    if (!u.active)
        return kn_status_set(st, KN_FAILED_PRECONDITION,
                             "%s: user %s is deactivated and cannot be given new assignments",
                             field, user_id);
    return KN_OK;
}

static kn_code check_role(int role, kn_status *st)
{
    if (role != KONNECT__ASSIGN__V1__USER_ROLE__USER_ROLE_HQ &&
        role != KONNECT__ASSIGN__V1__USER_ROLE__USER_ROLE_TECHNICIAN)
        return kn_status_set(st, KN_INVALID_ARGUMENT,
                             "role: USER_ROLE_HQ or USER_ROLE_TECHNICIAN required");
    return KN_OK;
}

kn_code assign_create_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__CreateUserRequest *r =
        (const Konnect__Assign__V1__CreateUserRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    const kn_identity *id = kn_call_identity(call);
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "create users") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_text("request_id", r->request_id, 0, REQUEST_ID_MAX, &st) != KN_OK ||
        kn_check_text("display_name", r->display_name, 1, DISPLAY_NAME_MAX, &st) != KN_OK ||
        assign_check_email("email", r->email, &st) != KN_OK ||
        kn_check_text("employee_number", r->employee_number, 0, EMPLOYEE_NUMBER_MAX, &st) !=
            KN_OK ||
        check_role(r->role, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (*r->password && assign_check_password("password", r->password, &st) != KN_OK)
        return kn_call_fail(call, &st);

    assign_user_row u;
    /* A retried request answers what the first one made, without paying
     * for another password hash. */
    if (*r->request_id) {
        int found = 0;
        if (assign_store_user_by_request(w->pg, a, id->tenant_id, r->request_id, &u, &found, &st) !=
            KN_OK)
            return kn_call_fail(call, &st);
        if (found) {
            /* Email and role never change after the create, so a retry that
             * differs in them is another request under the same id (the
             * gateway answers 422). Names may have been edited since. */
            if (strcasecmp(u.email, r->email) != 0 || u.role != (int)r->role)
                return kn_call_error(call, KN_ALREADY_EXISTS,
                                     "request_id was already used with a different request");
            *resp = &assign_user_to_pb(a, &u)->base;
            return KN_OK;
        }
    }
    char hash[128];
    const char *hp = NULL;
    if (*r->password) {
        if (assign_hash_password(r->password, hash, sizeof(hash), &st) != KN_OK)
            return kn_call_fail(call, &st);
        hp = hash;
    }
    char uid[KN_UUID_STR_LEN + 1];
    assign_uuid_v4(uid);
    int replayed = 0;
    kn_code c = assign_store_user_insert(w->pg, a, id->tenant_id, uid, r->display_name, r->email,
                                         r->employee_number, r->role, hp, r->request_id, &u,
                                         &replayed, &st);
    if (hp)
        memset(hash, 0, sizeof(hash));
    if (c != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &assign_user_to_pb(a, &u)->base;
    return KN_OK;
}

kn_code assign_get_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__GetUserRequest *r = (const Konnect__Assign__V1__GetUserRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    const kn_identity *id = kn_call_identity(call);
    kn_status st;
    kn_status_clear(&st);
    if (kn_check_uuid("id", r->id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (id->role != KN_ROLE_HQ && strcasecmp(r->id, id->user_id) != 0)
        return kn_call_error(call, KN_PERMISSION_DENIED,
                             "a technician may read only their own user");
    assign_user_row u;
    if (assign_store_user_get(w->pg, a, id->tenant_id, r->id, &u, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &assign_user_to_pb(a, &u)->base;
    return KN_OK;
}

kn_code assign_list_users(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__ListUsersRequest *r =
        (const Konnect__Assign__V1__ListUsersRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    const kn_identity *id = kn_call_identity(call);
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "list users") != KN_OK)
        return KN_PERMISSION_DENIED;
    int page = 0;
    if (kn_page_size("page_size", r->page_size, 50, 500, &page, &st) != KN_OK ||
        kn_check_text("query", r->query, 0, QUERY_MAX, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (r->role != 0 && check_role(r->role, &st) != KN_OK)
        return kn_call_fail(call, &st);

    char role[8];
    snprintf(role, sizeof(role), "%d", (int)r->role);
    const char *parts[] = {id->tenant_id, "users", r->query, role, r->include_inactive ? "1" : "0"};
    uint64_t qh = kn_page_query_hash(parts, sizeof(parts) / sizeof(parts[0]));
    assign_user_query q;
    memset(&q, 0, sizeof(q));
    kn_page_key key;
    if (*r->page_token) {
        if (kn_page_token_decode("page_token", r->page_token, qh, &key, &st) != KN_OK)
            return kn_call_fail(call, &st);
        if (!kn_is_uuid(key.id))
            return kn_call_error(call, KN_INVALID_ARGUMENT, "page_token: not a token of this list");
        q.has_after = 1;
        q.after_us = key.time_us;
        q.after_id = key.id;
    }
    q.tenant = id->tenant_id;
    q.pattern = *r->query ? assign_like_pattern(a, r->query) : NULL;
    q.role = r->role;
    q.include_inactive = r->include_inactive;
    q.limit = page + 1;
    assign_user_row *rows = NULL;
    size_t n = 0;
    if (assign_store_user_list(w->pg, a, &q, &rows, &n, &st) != KN_OK)
        return kn_call_fail(call, &st);

    Konnect__Assign__V1__ListUsersResponse *out =
        kn_arena_msg(a, &konnect__assign__v1__list_users_response__descriptor);
    size_t shown = n > (size_t)page ? (size_t)page : n;
    out->users = kn_arena_alloc(a, sizeof(Konnect__Assign__V1__User *) * (shown ? shown : 1));
    for (size_t i = 0; i < shown; i++)
        out->users[i] = assign_user_to_pb(a, &rows[i]);
    out->n_users = shown;
    out->next_page_token = "";
    if (n > (size_t)page) {
        memset(&key, 0, sizeof(key));
        key.time_us = rows[shown - 1].create_us;
        snprintf(key.id, sizeof(key.id), "%s", rows[shown - 1].id);
        char tok[256];
        if (kn_page_token_encode(&key, qh, tok, sizeof(tok)) < 0)
            return kn_call_error(call, KN_INTERNAL, "page token too long");
        out->next_page_token = kn_arena_strdup(a, tok);
    }
    *resp = &out->base;
    return KN_OK;
}

kn_code assign_update_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__UpdateUserRequest *r =
        (const Konnect__Assign__V1__UpdateUserRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    const kn_identity *id = kn_call_identity(call);
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "update users") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("id", r->id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (*r->display_name &&
        kn_check_text("display_name", r->display_name, 1, DISPLAY_NAME_MAX, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (*r->employee_number &&
        kn_check_text("employee_number", r->employee_number, 1, EMPLOYEE_NUMBER_MAX, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (*r->password && assign_check_password("password", r->password, &st) != KN_OK)
        return kn_call_fail(call, &st);
    int active = r->active ? (r->active->value ? 1 : 0) : -1;
    /* An hq user who deactivates themselves could lock the tenant out. */
    if (active == 0 && strcasecmp(r->id, id->user_id) == 0)
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "active: you cannot deactivate yourself");

    char hash[128];
    const char *hp = NULL;
    if (*r->password) {
        if (assign_hash_password(r->password, hash, sizeof(hash), &st) != KN_OK)
            return kn_call_fail(call, &st);
        hp = hash;
    }
    assign_user_row u;
    kn_code c = assign_store_user_update(
        w->pg, a, id->tenant_id, r->id, *r->display_name ? r->display_name : NULL,
        *r->employee_number ? r->employee_number : NULL, active, hp, &u, &st);
    if (hp)
        memset(hash, 0, sizeof(hash));
    if (c != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &assign_user_to_pb(a, &u)->base;
    return KN_OK;
}
