/* SearchActivity: the HQ screen's activity search (SPEC §2 item 8). */
#include "google/protobuf/timestamp.pb-c.h"
#include "loc.h"
#include "location_store.h"

/* 0001-01-01 and 9999-12-31T23:59:59Z, the proto's Timestamp range. */
#define TS_MIN_S (-62135596800LL)
#define TS_MAX_S (253402300799LL)

static kn_code ts_param(kn_arena *a, const char *field, const Google__Protobuf__Timestamp *t,
                        const char **out, int64_t *us, kn_status *st)
{
    *out = NULL;
    if (!t)
        return KN_OK;
    if (t->seconds < TS_MIN_S || t->seconds > TS_MAX_S || t->nanos < 0 || t->nanos > 999999999)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: timestamp out of range", field);
    *us = t->seconds * 1000000 + t->nanos / 1000;
    *out = kn_arena_sprintf(a, "%lld", (long long)*us);
    return KN_OK;
}

static kn_code check_request(kn_arena *a, const Konnect__Location__V1__SearchActivityRequest *r,
                             loc_activity_filter *f, kn_status *st)
{
    int64_t from = 0, to = 0;
    if (kn_check_text("query", r->query, 0, LOC_MAX_QUERY, st) != KN_OK ||
        kn_check_uuid_opt("location_id", r->location_id, st) != KN_OK ||
        kn_check_uuid_opt("package_id", r->package_id, st) != KN_OK ||
        ts_param(a, "from", r->from, &f->from_us, &from, st) != KN_OK ||
        ts_param(a, "to", r->to, &f->to_us, &to, st) != KN_OK)
        return st->code;
    if ((int)r->kind < 0 || r->kind > KONNECT__LOCATION__V1__ACTIVITY_KIND__ACTIVITY_KIND_RETURNED)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "kind: unknown activity kind %d",
                             (int)r->kind);
    if (f->from_us && f->to_us && to < from)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "to: before from");
    f->query = r->query;
    f->location_id = r->location_id;
    f->package_id = r->package_id;
    f->kind = (int)r->kind;
    return KN_OK;
}

LOC_HANDLER(search_activity)
{
    const Konnect__Location__V1__SearchActivityRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    kn_page_key key;
    const kn_page_key *after;
    uint64_t hash;
    int limit;
    loc_page page = {0};
    loc_activity_filter f = {0};
    kn_code rc;
    /* Activity spans every user's packages: an HQ screen. */
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (check_request(a, r, &f, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const char *tenant = kn_call_identity(call)->tenant_id;
    const char *kind = kn_arena_sprintf(a, "%d", f.kind);
    const char *parts[] = {"activity",
                           tenant,
                           f.query,
                           f.location_id,
                           f.package_id,
                           kind,
                           f.from_us ? f.from_us : "-",
                           f.to_us ? f.to_us : "-"};
    if (loc_page_begin(parts, 8, r->page_token, r->page_size, &hash, &key, &after, &limit, &st) !=
            KN_OK ||
        loc_store_search_activity(loc_pg(call), a, tenant, &f, after, limit, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__SearchActivityResponse *out =
        kn_arena_msg(a, &konnect__location__v1__search_activity_response__descriptor);
    out->activities = (Konnect__Location__V1__Activity **)page.items;
    out->n_activities = page.n;
    out->next_page_token = loc_page_next(a, &page, hash);
    *resp = &out->base;
    return KN_OK;
}
