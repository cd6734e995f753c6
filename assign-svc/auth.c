/* Authenticate and password hashing (Argon2id, libsodium crypto_pwhash_str).
 * A wrong tenant code, unknown email, wrong password, deactivated user or a
 * user without a password all answer the same UNAUTHENTICATED "invalid
 * credentials", after the same Argon2id verification (against a dummy hash
 * when there is no real one), so neither the answer nor its time tells
 * which part was wrong. */
#include <string.h>

#include <sodium.h>

#include "assign.h"
#include "kn_log.h"
#include "kn_validate.h"

#define PASSWORD_MIN 10
#define PASSWORD_MAX 1024

kn_code assign_check_password(const char *field, const char *pw, kn_status *st)
{
    size_t n = strlen(pw);
    if (n < PASSWORD_MIN)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: at least %d characters", field,
                             PASSWORD_MIN);
    if (n > PASSWORD_MAX)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: at most %d characters", field,
                             PASSWORD_MAX);
    return KN_OK;
}

kn_code assign_hash_password(const char *pw, char *out, size_t outlen, kn_status *st)
{
    if (outlen < crypto_pwhash_STRBYTES)
        return kn_status_set(st, KN_INTERNAL, "hash buffer too small");
    if (crypto_pwhash_str_alg(out, pw, strlen(pw), assign_cfg.pwhash_opslimit,
                              assign_cfg.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return kn_status_set(st, KN_RESOURCE_EXHAUSTED, "out of memory hashing the password");
    return KN_OK;
}

kn_code assign_auth_init(kn_status *st)
{
    if (sodium_init() < 0)
        return kn_status_set(st, KN_INTERNAL, "libsodium failed to initialise");
    unsigned char rnd[24];
    char pw[2 * sizeof(rnd) + 1];
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
    return assign_hash_password(pw, assign_cfg.dummy_hash, sizeof(assign_cfg.dummy_hash), st);
}

kn_code assign_authenticate(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__AuthenticateRequest *r =
        (const Konnect__Assign__V1__AuthenticateRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st;
    kn_status_clear(&st);
    if (kn_check_text("tenant_code", r->tenant_code, 1, 64, &st) != KN_OK ||
        kn_check_text("email", r->email, 1, 254, &st) != KN_OK)
        return kn_call_fail(call, &st);
    size_t pwlen = strlen(r->password);
    if (pwlen == 0 || pwlen > PASSWORD_MAX)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "password: 1 to %d characters",
                             PASSWORD_MAX);

    /* Counted per account name, existing or not, so the lockout itself
     * reveals nothing. */
    const char *key = assign_account_key(a, r->tenant_code, r->email);
    long failures = 0;
    if (assign_store_login_failures(w->pg, key, assign_cfg.login_window_s, &failures, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (failures >= assign_cfg.login_max_failures)
        return kn_call_error(call, KN_RESOURCE_EXHAUSTED,
                             "too many failed login attempts; try again later");

    assign_user_row u;
    int found = 0;
    if (assign_store_auth_lookup(w->pg, a, r->tenant_code, r->email, &u, &found, &st) != KN_OK)
        return kn_call_fail(call, &st);
    int real = found && u.password_hash && *u.password_hash;
    const char *hash = real ? u.password_hash : assign_cfg.dummy_hash;
    int match = crypto_pwhash_str_verify(hash, r->password, pwlen) == 0;
    if (!(real && match && u.active)) {
        if (assign_store_login_failure_add(w->pg, key, &st) != KN_OK)
            return kn_call_fail(call, &st);
        return kn_call_error(call, KN_UNAUTHENTICATED, "invalid credentials");
    }
    if (failures > 0 && assign_store_login_failures_clear(w->pg, key, &st) != KN_OK)
        kn_log_warn("could not clear failed logins: %s", st.message);
    /* Hashes made with weaker settings are upgraded while we hold the
     * password. */
    if (crypto_pwhash_str_needs_rehash(hash, assign_cfg.pwhash_opslimit,
                                       assign_cfg.pwhash_memlimit) != 0) {
        char nh[128];
        kn_status hst;
        kn_status_clear(&hst);
        if (assign_hash_password(r->password, nh, sizeof(nh), &hst) == KN_OK)
            assign_store_user_set_hash(w->pg, u.tenant_id, u.id, nh, &hst);
        sodium_memzero(nh, sizeof(nh));
    }
    u.password_hash = NULL;
    Konnect__Assign__V1__AuthenticateResponse *out =
        kn_arena_msg(a, &konnect__assign__v1__authenticate_response__descriptor);
    out->user = assign_user_to_pb(a, &u);
    *resp = &out->base;
    return KN_OK;
}
