/* POST /v1/login: tenant code, email and password -> assign-svc
 * Authenticate (a public method) -> a short-lived JWT signed here.
 *
 * Every failure answers the same 401 text, whichever part was wrong, so the
 * answer does not tell whether a tenant or an email exists. Failed logins
 * are counted per account (tenant + email, case-folded) and per client
 * address; once either reaches KN_GATEWAY_LOGIN_MAX_FAILURES in the window
 * the gateway answers 429 with Retry-After without asking assign-svc (so
 * password guessing costs no Argon2id work). A success clears the
 * account's counter, not the address's. */
#include "gateway.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "konnect/assign/v1/assign.pb-c.h"
#include "transcode.h"

#define LOGIN_FAILED "invalid tenant, email or password"

static gw_limiter *account_limiter;
static gw_limiter *addr_limiter;

int gw_auth_init(void)
{
    account_limiter = gw_limiter_new(65536);
    addr_limiter = gw_limiter_new(65536);
    return account_limiter && addr_limiter ? 0 : -1;
}

static const char *member(json_t *body, const char *name, gw_response *resp)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "field \"%s\" is required (a string)", name);
        return NULL;
    }
    return json_string_value(v);
}

static int too_many(const char *akey, const char *ikey, gw_response *resp)
{
    int ra = 0, ri = 0;
    int max = (int)gw_cfg.login_max_failures, win = (int)gw_cfg.login_window_s;
    int64_t now = gw_now_us();
    int b1 = gw_limiter_blocked(account_limiter, akey, max, win, now, &ra);
    int b2 = gw_limiter_blocked(addr_limiter, ikey, max, win, now, &ri);
    if (!b1 && !b2)
        return 0;
    resp->retry_after = ra > ri ? ra : ri;
    gw_error(resp, 429, KN_RESOURCE_EXHAUSTED, "too many failed logins; retry after %d s",
             resp->retry_after);
    return 1;
}

/* A login in flight (in the request's arena). */
typedef struct {
    gw_request *req;
    gw_response *resp;
    gw_done_fn done;
    void *ud;
    char *akey;
    const char *ikey;
} gw_login_op;

static void login_answered(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_login_op *op = ud;
    gw_response *resp = op->resp;
    (void)st;
    const Konnect__Assign__V1__AuthenticateResponse *ar = (const void *)out;
    const Konnect__Assign__V1__User *u = code == KN_OK && ar != NULL ? ar->user : NULL;
    if (code == KN_OK && (u == NULL || !u->active || u->id == NULL || u->tenant_id == NULL))
        code = KN_UNAUTHENTICATED;
    switch (code) {
    case KN_OK:
        break;
    case KN_UNAVAILABLE:
    case KN_DEADLINE_EXCEEDED:
    case KN_INTERNAL:
    case KN_UNKNOWN:
    case KN_RESOURCE_EXHAUSTED:
        resp->retry_after = 1;
        gw_error(resp, gw_http_status(code), code, "login is unavailable; try again later");
        goto done;
    default:
        gw_limiter_fail(account_limiter, op->akey, (int)gw_cfg.login_window_s, gw_now_us());
        gw_limiter_fail(addr_limiter, op->ikey, (int)gw_cfg.login_window_s, gw_now_us());
        resp->www_authenticate = 1;
        gw_error(resp, 401, KN_UNAUTHENTICATED, LOGIN_FAILED);
        goto done;
    }
    gw_limiter_reset(account_limiter, op->akey);

    kn_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.user_id, sizeof id.user_id, "%s", u->id);
    snprintf(id.tenant_id, sizeof id.tenant_id, "%s", u->tenant_id);
    id.role =
        u->role == KONNECT__ASSIGN__V1__USER_ROLE__USER_ROLE_HQ ? KN_ROLE_HQ : KN_ROLE_TECHNICIAN;
    int64_t now = (int64_t)time(NULL);
    id.exp = now + gw_cfg.jwt_ttl_s;
    char token[1024];
    if (gw_cfg.jwt_secret_len == 0 ||
        kn_jwt_sign(&id, now, gw_cfg.jwt_secret, gw_cfg.jwt_secret_len, token, sizeof token) < 0) {
        gw_error(resp, 500, KN_INTERNAL, "cannot sign a token (is KN_JWT_SECRET set?)");
        goto done;
    }
    char exp[48];
    gw_rfc3339_format(id.exp, 0, exp, sizeof exp);
    json_t *j = json_object();
    json_object_set_new(j, "token", json_string(token));
    json_object_set_new(j, "expiresAt", json_string(exp));
    json_object_set_new(j, "user", gw_msg_to_json(&u->base));
    gw_json_reply(resp, 200, j);
done:
    op->done(op->ud);
}

void gw_login_start(gw_request *req, gw_response *resp, gw_done_fn done, void *ud)
{
    json_t *body = NULL;
    json_error_t je;
    if (req->nquery > 0) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "unknown query parameter \"%s\"",
                 req->query[0].key);
        goto fail;
    }
    if (req->content_type != NULL && strncasecmp(req->content_type, "application/json", 16) != 0) {
        gw_error(resp, 415, KN_INVALID_ARGUMENT, "the request body must be application/json");
        goto fail;
    }
    body = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(body)) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT,
                 "the body must be a JSON object {tenant, email, password}");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "tenant") != 0 && strcmp(key, "email") != 0 &&
            strcmp(key, "password") != 0) {
            gw_error(resp, 400, KN_INVALID_ARGUMENT, "unknown field \"%s\"", key);
            goto fail;
        }
    }
    const char *tenant = member(body, "tenant", resp);
    const char *email = tenant ? member(body, "email", resp) : NULL;
    const char *password = email ? member(body, "password", resp) : NULL;
    if (password == NULL)
        goto fail;

    gw_login_op *op = kn_arena_alloc(req->arena, sizeof *op);
    memset(op, 0, sizeof *op);
    op->req = req;
    op->resp = resp;
    op->done = done;
    op->ud = ud;
    op->akey = kn_arena_sprintf(req->arena, "%s\n%s", tenant, email);
    for (char *p = op->akey; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    op->ikey = req->client_addr ? req->client_addr : "";
    if (too_many(op->akey, op->ikey, resp))
        goto fail;

    Konnect__Assign__V1__AuthenticateRequest areq = KONNECT__ASSIGN__V1__AUTHENTICATE_REQUEST__INIT;
    areq.tenant_code = (char *)tenant;
    areq.email = (char *)email;
    /* Off the arena: the call may complete, and the arena go, before
     * kn_channel_call_async returns; wiped once encoded. */
    char *pw = strdup(password);
    if (pw == NULL)
        abort();
    areq.password = pw;
    kn_call_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = (int)gw_cfg.call_timeout_ms;
    o.request_id = req->request_id;
    /* Nothing of req may be touched once the call started. */
    if (gw_channels[GW_SVC_ASSIGN] == NULL) {
        kn_status st;
        kn_status_set(&st, KN_UNAVAILABLE, "no assign-svc target");
        login_answered(op, st.code, &st, NULL);
    } else {
        kn_channel_call_async(gw_channels[GW_SVC_ASSIGN],
                              "/konnect.assign.v1.AssignService/Authenticate", &areq.base,
                              &konnect__assign__v1__authenticate_response__descriptor, req->arena,
                              &o, login_answered, op);
    }
    memset(pw, 0, strlen(pw));
    free(pw);
    json_decref(body);
    return;
fail:
    json_decref(body);
    done(ud);
}
