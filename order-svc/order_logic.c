/* order_logic: pure decisions, see order_logic.h. */
#include "order_logic.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kn_pagetoken.h"
#include "kn_validate.h"

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* The lead is the most selective equality the filters give, so that the
 * index scan stops after a page of matches: a specific assignee (1 of
 * ~100 users), then a location (1 of ~50), then "unassigned", then a status
 * (CANCELLED/COLLECTED are rare; ACTIVE is common but still ordered), else
 * the whole tenant in time order. The other filters ride along as ranges on
 * trailing index columns. */
void order_list_plan_make(const order_list_filter *f, order_list_plan *p)
{
    memset(p, 0, sizeof(*p));
    copy(p->status_lo, sizeof(p->status_lo), "1");
    copy(p->status_hi, sizeof(p->status_hi), "3");
    if (f->status > 0) {
        snprintf(p->status_lo, sizeof(p->status_lo), "%d", f->status);
        snprintf(p->status_hi, sizeof(p->status_hi), "%d", f->status);
    }
    copy(p->type_lo, sizeof(p->type_lo), "1");
    copy(p->type_hi, sizeof(p->type_hi), "2");
    if (f->type > 0) {
        snprintf(p->type_lo, sizeof(p->type_lo), "%d", f->type);
        snprintf(p->type_hi, sizeof(p->type_hi), "%d", f->type);
    }
    int has_loc = f->location && *f->location;
    copy(p->loc_lo, sizeof(p->loc_lo), has_loc ? f->location : ORDER_NIL_UUID);
    copy(p->loc_hi, sizeof(p->loc_hi), has_loc ? f->location : ORDER_MAX_UUID);

    /* assignee_key is nil for "unassigned", so assigned = (nil, max]. */
    int has_assignee = f->assignee && *f->assignee;
    copy(p->akey_lo, sizeof(p->akey_lo), ORDER_NIL_UUID);
    copy(p->akey_hi, sizeof(p->akey_hi), ORDER_MAX_UUID);
    int empty = 0;
    if (has_assignee) {
        copy(p->akey_lo, sizeof(p->akey_lo), f->assignee);
        copy(p->akey_hi, sizeof(p->akey_hi), f->assignee);
        if (f->assignment == ORDER_AF_UNASSIGNED || strcmp(f->assignee, ORDER_NIL_UUID) == 0)
            empty = 1;
    } else if (f->assignment == ORDER_AF_ASSIGNED) {
        copy(p->akey_lo, sizeof(p->akey_lo), "00000000-0000-0000-0000-000000000001");
    } else if (f->assignment == ORDER_AF_UNASSIGNED) {
        copy(p->akey_hi, sizeof(p->akey_hi), ORDER_NIL_UUID);
    }

    int has_dates = (f->start_date && *f->start_date) || (f->end_date && *f->end_date);
    copy(p->date_lo, sizeof(p->date_lo), "-infinity");
    copy(p->date_hi, sizeof(p->date_hi), "infinity");
    copy(p->time_lo, sizeof(p->time_lo), "-infinity");
    copy(p->time_hi, sizeof(p->time_hi), "infinity");
    p->time_hi_us = INT64_MAX;
    if (has_dates) {
        /* UTC offsets lie within [-12 h, +14 h]: a local date d starts no
         * earlier than d 00:00 UTC - 14 h and ends no later than
         * (d + 1) 00:00 UTC + 12 h. The exact test is on create_date. */
        if (f->start_date && *f->start_date) {
            copy(p->date_lo, sizeof(p->date_lo), f->start_date);
            order_date_bound(f->start_date, 0, -14, p->time_lo, sizeof(p->time_lo));
        }
        if (f->end_date && *f->end_date) {
            copy(p->date_hi, sizeof(p->date_hi), f->end_date);
            order_date_bound(f->end_date, 1, 12, p->time_hi, sizeof(p->time_hi));
            p->time_hi_us = order_date_bound_us(f->end_date, 1, 12);
        }
    }

    if (f->role == KN_ROLE_TECHNICIAN) {
        /* Visible: own + unassigned. */
        const char *me = f->user_id;
        if (has_assignee) {
            if (strcmp(f->assignee, me) != 0)
                empty = 1;
            p->shape = ORDER_LIST_ASSIGNEE;
            copy(p->lead, sizeof(p->lead), f->assignee);
        } else if (f->assignment == ORDER_AF_ASSIGNED) {
            p->shape = ORDER_LIST_ASSIGNEE;
            copy(p->lead, sizeof(p->lead), me);
        } else if (f->assignment == ORDER_AF_UNASSIGNED) {
            p->shape = ORDER_LIST_ASSIGNEE;
            copy(p->lead, sizeof(p->lead), ORDER_NIL_UUID);
        } else {
            p->shape = ORDER_LIST_TECH;
            copy(p->lead, sizeof(p->lead), me);
        }
    } else if (has_assignee) {
        p->shape = ORDER_LIST_ASSIGNEE;
        copy(p->lead, sizeof(p->lead), f->assignee);
    } else if (has_loc) {
        p->shape = ORDER_LIST_LOCATION;
        copy(p->lead, sizeof(p->lead), f->location);
    } else if (f->assignment == ORDER_AF_UNASSIGNED) {
        p->shape = ORDER_LIST_ASSIGNEE;
        copy(p->lead, sizeof(p->lead), ORDER_NIL_UUID);
    } else if (f->status > 0) {
        p->shape = ORDER_LIST_STATUS;
        copy(p->lead, sizeof(p->lead), p->status_lo);
    } else {
        p->shape = ORDER_LIST_ALL;
    }
    p->lead_loc[0] = '\0';
    if (has_loc && (p->shape == ORDER_LIST_ASSIGNEE || p->shape == ORDER_LIST_TECH))
        copy(p->lead_loc, sizeof(p->lead_loc), f->location);
    if (empty)
        p->shape = ORDER_LIST_EMPTY;
}

kn_code order_list_validate(int page_size, int status, int assignment, const char *assignee,
                            const char *location, const char *start_date, const char *end_date,
                            int type, int *page_size_out, kn_status *st)
{
    if (page_size < 0)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "page_size must not be negative");
    if (page_size > 100000)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "page_size must be at most %d",
                             ORDER_PAGE_MAX);
    if (kn_page_size("page_size", page_size, ORDER_PAGE_DEFAULT, ORDER_PAGE_MAX, page_size_out,
                     st) != KN_OK)
        return st->code;
    if (status < 0 || status > 3)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "status is not a known OrderStatus");
    if (assignment < 0 || assignment > 3)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "assignment is not a known AssignmentFilter");
    if (type < 0 || type > 2)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "type is not a known OrderType");
    if (kn_check_uuid_opt("assignee_user_id", assignee, st) != KN_OK)
        return st->code;
    if (kn_check_uuid_opt("location_id", location, st) != KN_OK)
        return st->code;
    if (start_date && *start_date && kn_check_date("start_date", start_date, st) != KN_OK)
        return st->code;
    if (end_date && *end_date && kn_check_date("end_date", end_date, st) != KN_OK)
        return st->code;
    if (start_date && *start_date && end_date && *end_date && strcmp(end_date, start_date) < 0)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "end_date must not be before start_date");
    return KN_OK;
}

uint64_t order_list_query_hash(const char *tenant, const order_list_filter *f)
{
    char status[8], assignment[8], type[8], role[8];
    snprintf(status, sizeof(status), "%d", f->status);
    /* UNSPECIFIED behaves as ANY: same query, same token. */
    snprintf(assignment, sizeof(assignment), "%d", f->assignment == 0 ? 1 : f->assignment);
    snprintf(type, sizeof(type), "%d", f->type);
    snprintf(role, sizeof(role), "%d", (int)f->role);
    const char *parts[] = {"ListOrders",  tenant,      f->user_id,  role,
                           status,        assignment,  f->assignee, f->location,
                           f->start_date, f->end_date, type};
    return kn_page_query_hash(parts, sizeof(parts) / sizeof(parts[0]));
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void order_format_time_us(int64_t us, char *out, size_t outlen)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

/* YYYY-MM-DD (already validated by kn_check_date) into its numbers. */
static int parse_ymd(const char *s, int *y, int *m, int *d)
{
    static const int digit[] = {0, 1, 2, 3, 5, 6, 8, 9};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (size_t i = 0; i < sizeof digit / sizeof digit[0]; i++)
        if (s[digit[i]] < '0' || s[digit[i]] > '9')
            return -1;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    return 0;
}

int64_t order_date_bound_us(const char *date, int add_days, int add_hours)
{
    int y, m, d;
    if (parse_ymd(date, &y, &m, &d) != 0)
        return 0;
    return ((days_from_civil(y, m, d) + add_days) * 86400 + (int64_t)add_hours * 3600) * 1000000;
}

int order_date_bound(const char *date, int add_days, int add_hours, char *out, size_t outlen)
{
    int y, m, d;
    if (parse_ymd(date, &y, &m, &d) != 0)
        return -1;
    int64_t secs = (days_from_civil(y, m, d) + add_days) * 86400 + (int64_t)add_hours * 3600;
    order_format_time_us(secs * 1000000, out, outlen);
    return 0;
}

static void hash_part(crypto_hash_sha256_state *s, const char *p)
{
    const char *v = p ? p : "";
    crypto_hash_sha256_update(s, (const unsigned char *)v, strlen(v));
    crypto_hash_sha256_update(s, (const unsigned char *)"\x1f", 1);
}

void order_request_hash(int type, const char *identifier, const char *location,
                        const char *const *package_ids, size_t npkg, const char *const *skus,
                        const int *quantities, size_t nlines, char hex[65])
{
    crypto_hash_sha256_state s;
    unsigned char h[crypto_hash_sha256_BYTES];
    char num[16];
    crypto_hash_sha256_init(&s);
    snprintf(num, sizeof(num), "%d", type);
    hash_part(&s, "CreateOrder/1");
    hash_part(&s, num);
    hash_part(&s, identifier);
    hash_part(&s, location);
    snprintf(num, sizeof(num), "%zu", npkg);
    hash_part(&s, num);
    for (size_t i = 0; i < npkg; i++) {
        /* UUIDs compare case-insensitively: hash their lower-case form. */
        char id[37];
        snprintf(id, sizeof(id), "%s", package_ids[i]);
        for (char *c = id; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                *c = (char)(*c - 'A' + 'a');
        hash_part(&s, id);
    }
    snprintf(num, sizeof(num), "%zu", nlines);
    hash_part(&s, num);
    for (size_t i = 0; i < nlines; i++) {
        hash_part(&s, skus[i]);
        snprintf(num, sizeof(num), "%d", quantities[i]);
        hash_part(&s, num);
    }
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof(h));
}

static void uuid_format(unsigned char b[16], char out[37])
{
    static const char hexd[] = "0123456789abcdef";
    int j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hexd[b[i] >> 4];
        out[j++] = hexd[b[i] & 15];
    }
    out[j] = '\0';
}

void order_id_from_request(const char *tenant, const char *request_id, char out[37])
{
    crypto_hash_sha256_state s;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, (const unsigned char *)"konnect-order\n", 14);
    crypto_hash_sha256_update(&s, (const unsigned char *)tenant, strlen(tenant));
    crypto_hash_sha256_update(&s, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&s, (const unsigned char *)request_id, strlen(request_id));
    crypto_hash_sha256_final(&s, h);
    h[6] = (unsigned char)((h[6] & 0x0F) | 0x80); /* version 8 */
    h[8] = (unsigned char)((h[8] & 0x3F) | 0x80); /* variant 10 */
    uuid_format(h, out);
}

void order_id_random(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    uuid_format(b, out);
}

int64_t order_etag_parse(const char *etag)
{
    if (!etag || !*etag || strlen(etag) > 18)
        return -1;
    int64_t v = 0;
    for (const char *c = etag; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (*c - '0');
    }
    return v >= 1 ? v : -1;
}

kn_code order_check_uuid_list(const char *field, char *const *ids, size_t n, size_t min, size_t max,
                              kn_status *st)
{
    if (n < min)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must list at least %zu id%s", field, min,
                             min == 1 ? "" : "s");
    if (n > max)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must list at most %zu ids", field, max);
    for (size_t i = 0; i < n; i++) {
        if (!kn_is_uuid(ids[i]))
            return kn_status_set(st, KN_INVALID_ARGUMENT, "%s[%zu] must be a UUID", field, i);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(ids[i], ids[j]) == 0)
                return kn_status_set(st, KN_INVALID_ARGUMENT, "%s[%zu] is listed twice", field, i);
    }
    return KN_OK;
}
