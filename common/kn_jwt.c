/* kn_jwt: HS256 only. The algorithm is fixed by us, not chosen by the token:
 * a header naming anything but exactly "HS256" is refused before any crypto
 * runs, which closes the alg=none and RS256-with-HMAC-key confusions.
 *
 * Clock skew: exp and nbf are checked with KN_JWT_LEEWAY_S (30 s) of leeway,
 * so a token is accepted until now > exp + 30 and from nbf - 30 on. Replicas
 * run on different hosts whose clocks drift by seconds, and the issuer's
 * token lifetime (1 h) dwarfs the leeway. */
#include "kn_jwt.h"

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "kn_validate.h"

#define KN_JWT_LEEWAY_S 30
#define KN_JWT_MAX_LEN  8192
#define KN_JWT_B64      sodium_base64_VARIANT_URLSAFE_NO_PADDING

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void)
{
    if (sodium_init() < 0)
        abort(); /* no usable randomness source: nothing in the runtime can work */
}

const char *kn_role_name(kn_role role)
{
    switch (role) {
    case KN_ROLE_HQ:
        return "hq";
    case KN_ROLE_TECHNICIAN:
        return "technician";
    default:
        return "";
    }
}

static void hs256(const unsigned char *key, size_t keylen, const char *msg, size_t msglen,
                  unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state s;
    crypto_auth_hmacsha256_init(&s, key, keylen);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)msg, msglen);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_memzero(&s, sizeof(s));
}

/* Decodes one base64url segment (no padding, nothing trailing) into a
 * malloc'd, NUL-terminated buffer. */
static unsigned char *b64_decode(const char *seg, size_t len, size_t *outlen)
{
    size_t cap = len * 3 / 4 + 1;
    unsigned char *buf = malloc(cap + 1);
    const char *end = NULL;
    if (!buf)
        return NULL;
    if (!kn_is_base64url(seg, len) ||
        sodium_base642bin(buf, cap, seg, len, NULL, outlen, &end, KN_JWT_B64) != 0 ||
        end != seg + len) {
        free(buf);
        return NULL;
    }
    buf[*outlen] = '\0';
    return buf;
}

static json_t *parse_segment(const char *seg, size_t len)
{
    size_t n = 0;
    unsigned char *raw = b64_decode(seg, len, &n);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static kn_code check_header(json_t *hdr, kn_status *st)
{
    json_t *alg = json_object_get(hdr, "alg");
    if (!alg)
        return kn_status_set(st, KN_UNAUTHENTICATED, "missing alg in token header");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        return kn_status_set(st, KN_UNAUTHENTICATED, "unsupported alg (only HS256 is accepted)");
    json_t *typ = json_object_get(hdr, "typ");
    if (typ && !json_is_string(typ))
        return kn_status_set(st, KN_UNAUTHENTICATED, "bad typ in token header");
    /* "crit" lists extensions the verifier must understand; we understand none. */
    if (json_object_get(hdr, "crit"))
        return kn_status_set(st, KN_UNAUTHENTICATED, "unsupported crit in token header");
    return KN_OK;
}

static kn_code claim_uuid(json_t *payload, const char *name, char *out, kn_status *st)
{
    json_t *v = json_object_get(payload, name);
    if (!v)
        return kn_status_set(st, KN_UNAUTHENTICATED, "missing claim %s", name);
    if (!json_is_string(v) || !kn_is_uuid(json_string_value(v)))
        return kn_status_set(st, KN_UNAUTHENTICATED, "claim %s must be a UUID", name);
    memcpy(out, json_string_value(v), KN_UUID_STR_LEN);
    out[KN_UUID_STR_LEN] = '\0';
    return KN_OK;
}

/* NumericDate as an integer; *present = 0 when absent. */
static kn_code claim_time(json_t *payload, const char *name, int required, int64_t *out,
                          int *present, kn_status *st)
{
    json_t *v = json_object_get(payload, name);
    *present = v != NULL;
    if (!v) {
        if (required)
            return kn_status_set(st, KN_UNAUTHENTICATED, "missing claim %s", name);
        return KN_OK;
    }
    if (!json_is_integer(v))
        return kn_status_set(st, KN_UNAUTHENTICATED, "claim %s must be an integer", name);
    *out = (int64_t)json_integer_value(v);
    return KN_OK;
}

static kn_code check_payload(json_t *p, int64_t now, kn_identity *out, kn_status *st)
{
    kn_code rc;
    int present = 0;
    int64_t exp = 0, nbf = 0, iat = 0;

    if ((rc = claim_uuid(p, "sub", out->user_id, st)) != KN_OK)
        return rc;
    if ((rc = claim_uuid(p, "tenant", out->tenant_id, st)) != KN_OK)
        return rc;
    json_t *role = json_object_get(p, "role");
    if (!role)
        return kn_status_set(st, KN_UNAUTHENTICATED, "missing claim role");
    const char *rs = json_is_string(role) ? json_string_value(role) : "";
    if (strcmp(rs, "hq") == 0)
        out->role = KN_ROLE_HQ;
    else if (strcmp(rs, "technician") == 0)
        out->role = KN_ROLE_TECHNICIAN;
    else
        return kn_status_set(st, KN_UNAUTHENTICATED, "claim role must be hq or technician");

    if ((rc = claim_time(p, "exp", 1, &exp, &present, st)) != KN_OK)
        return rc;
    /* The leeway goes on now's side: exp and nbf are the token's, any
     * int64 (exp + 30 overflowed for exp near INT64_MAX, found by fuzzing,
     * tests/fuzz/regressions/jwt/). */
    if (exp < now - KN_JWT_LEEWAY_S)
        return kn_status_set(st, KN_UNAUTHENTICATED, "token expired");
    if ((rc = claim_time(p, "nbf", 0, &nbf, &present, st)) != KN_OK)
        return rc;
    if (present && nbf > now + KN_JWT_LEEWAY_S)
        return kn_status_set(st, KN_UNAUTHENTICATED, "token not yet valid (nbf)");
    if ((rc = claim_time(p, "iat", 0, &iat, &present, st)) != KN_OK)
        return rc;
    out->exp = exp;
    return KN_OK;
}

kn_code kn_jwt_verify(const char *token, size_t token_len, const unsigned char *secret,
                      size_t secret_len, int64_t now, kn_identity *out, kn_status *st)
{
    kn_code rc = KN_UNAUTHENTICATED;
    json_t *hdr = NULL, *payload = NULL;
    kn_identity id;

    pthread_once(&sodium_once, sodium_start);
    memset(&id, 0, sizeof(id));
    if (!token || token_len == 0)
        return kn_status_set(st, KN_UNAUTHENTICATED, "missing token");
    if (token_len > KN_JWT_MAX_LEN)
        return kn_status_set(st, KN_UNAUTHENTICATED, "token too long");

    const char *d1 = memchr(token, '.', token_len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', token_len - (size_t)(d1 + 1 - token)) : NULL;
    const char *end = token + token_len;
    if (!d1 || !d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return kn_status_set(st, KN_UNAUTHENTICATED, "malformed token (expected 3 segments)");
    if (d1 == token || d2 == d1 + 1 || d2 + 1 == end)
        return kn_status_set(st, KN_UNAUTHENTICATED, "malformed token (empty segment)");

    hdr = parse_segment(token, (size_t)(d1 - token));
    if (!hdr) {
        kn_status_set(st, KN_UNAUTHENTICATED, "malformed token header");
        goto done;
    }
    if ((rc = check_header(hdr, st)) != KN_OK)
        goto done;
    rc = KN_UNAUTHENTICATED;

    unsigned char want[crypto_auth_hmacsha256_BYTES];
    unsigned char got[crypto_auth_hmacsha256_BYTES + 1];
    size_t got_len = 0;
    const char *sig = d2 + 1;
    const char *sig_end = NULL;
    if (!kn_is_base64url(sig, (size_t)(end - sig)) ||
        sodium_base642bin(got, sizeof(got), sig, (size_t)(end - sig), NULL, &got_len, &sig_end,
                          KN_JWT_B64) != 0 ||
        sig_end != end || got_len != sizeof(want)) {
        kn_status_set(st, KN_UNAUTHENTICATED, "malformed token signature");
        goto done;
    }
    hs256(secret, secret_len, token, (size_t)(d2 - token), want);
    if (sodium_memcmp(want, got, sizeof(want)) != 0) {
        kn_status_set(st, KN_UNAUTHENTICATED, "bad signature");
        goto done;
    }

    payload = parse_segment(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!payload) {
        kn_status_set(st, KN_UNAUTHENTICATED, "malformed token payload");
        goto done;
    }
    if ((rc = check_payload(payload, now, &id, st)) != KN_OK)
        goto done;
    *out = id;
    rc = KN_OK;
done:
    json_decref(hdr);
    json_decref(payload);
    return rc;
}

/* Appends the base64url form of bin to out at *pos; 0 or -1 when it does not fit. */
static int b64_append(const void *bin, size_t len, char *out, size_t outlen, size_t *pos)
{
    size_t need = sodium_base64_ENCODED_LEN(len, KN_JWT_B64); /* includes the NUL */
    if (*pos + need > outlen)
        return -1;
    sodium_bin2base64(out + *pos, outlen - *pos, bin, len, KN_JWT_B64);
    *pos += need - 1;
    return 0;
}

int kn_jwt_sign(const kn_identity *id, int64_t now, const unsigned char *secret, size_t secret_len,
                char *out, size_t outlen)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    int ret = -1;
    size_t pos = 0;
    char *body = NULL;

    pthread_once(&sodium_once, sodium_start);
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", id->user_id, "tenant", id->tenant_id, "role",
                  kn_role_name(id->role), "iat", (json_int_t)now, "exp", (json_int_t)id->exp);
    if (!p)
        goto done;
    body = json_dumps(p, JSON_COMPACT);
    if (!body)
        goto done;
    if (b64_append(header, sizeof(header) - 1, out, outlen, &pos) != 0)
        goto done;
    if (pos + 1 >= outlen)
        goto done;
    out[pos++] = '.';
    if (b64_append(body, strlen(body), out, outlen, &pos) != 0)
        goto done;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hs256(secret, secret_len, out, pos, mac);
    if (pos + 1 >= outlen)
        goto done;
    out[pos++] = '.';
    if (b64_append(mac, sizeof(mac), out, outlen, &pos) != 0)
        goto done;
    ret = (int)pos;
done:
    json_decref(p);
    free(body);
    return ret;
}

kn_code kn_jwt_verify_any(const char *token, size_t token_len, const unsigned char *secret,
                          size_t secret_len, const unsigned char *verify_secret,
                          size_t verify_secret_len, int64_t now, kn_identity *out, kn_status *st)
{
    kn_code rc = kn_jwt_verify(token, token_len, secret, secret_len, now, out, st);
    if (rc == KN_OK || verify_secret == NULL || verify_secret_len == 0)
        return rc;
    kn_status second;
    kn_status_clear(&second);
    if (kn_jwt_verify(token, token_len, verify_secret, verify_secret_len, now, out, &second) !=
        KN_OK)
        return rc;
    kn_status_clear(st);
    return KN_OK;
}
