/* JWT parsing and verification (kn_jwt.c).
 * First byte even: the rest is a token, verified with a fixed secret at a
 * fixed time; an accepted token must carry UUIDs and a known role, and must
 * be refused under another secret.
 * First byte odd: a round trip. The input builds an identity (sub and
 * tenant either UUIDs made from input bytes or raw input text, a role byte,
 * an 8-byte exp) and a secret (the remaining bytes); kn_jwt_sign signs it
 * and kn_jwt_verify must accept it exactly when the identity is valid and
 * not expired, and give the same identity back; the token with any one
 * byte changed (position and value from the input) must be refused. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kn_jwt.h"
#include "kn_validate.h"

#define NOW      INT64_C(1714550400) /* 2024-05-01 */
#define LEEWAY_S 30

static const unsigned char secret[] = "fuzz-secret-0123456789abcdef";

static void verify_any(const uint8_t *data, size_t size)
{
    kn_identity id;
    kn_status st = {0};
    memset(&id, 0xA5, sizeof id);
    kn_code rc = kn_jwt_verify((const char *)data, size, secret, sizeof secret - 1, NOW, &id, &st);
    if (rc != KN_OK) {
        FUZZ_CHECK(rc == KN_UNAUTHENTICATED && st.message[0] != '\0');
        return;
    }
    FUZZ_CHECK(kn_is_uuid(id.user_id) && kn_is_uuid(id.tenant_id));
    FUZZ_CHECK(id.role == KN_ROLE_HQ || id.role == KN_ROLE_TECHNICIAN);
    FUZZ_CHECK(id.exp >= NOW - LEEWAY_S);
    static const unsigned char other[] = "another-secret";
    FUZZ_CHECK(kn_jwt_verify((const char *)data, size, other, sizeof other - 1, NOW, &id, &st) ==
               KN_UNAUTHENTICATED);
}

/* Takes n bytes from the input, zero-filled when it runs out. */
static void take(const uint8_t **p, const uint8_t *end, void *out, size_t n)
{
    size_t k = (size_t)(end - *p) < n ? (size_t)(end - *p) : n;
    memset(out, 0, n);
    memcpy(out, *p, k);
    *p += k;
}

static void fill_id(const uint8_t **p, const uint8_t *end, int as_uuid,
                    char out[KN_UUID_STR_LEN + 1])
{
    if (as_uuid) {
        unsigned char b[16];
        take(p, end, b, sizeof b);
        snprintf(out, KN_UUID_STR_LEN + 1,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                 b[15]);
        return;
    }
    unsigned char len = 0;
    take(p, end, &len, 1);
    len %= KN_UUID_STR_LEN + 1;
    take(p, end, out, len);
    out[len] = '\0';
}

static void round_trip(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    unsigned char flags = 0, role = 0, mut[2];
    int64_t exp;
    kn_identity in;
    memset(&in, 0, sizeof in);
    take(&p, end, &flags, 1);
    take(&p, end, &role, 1);
    take(&p, end, mut, 2);
    take(&p, end, &exp, sizeof exp);
    fill_id(&p, end, flags & 1, in.user_id);
    fill_id(&p, end, flags & 2, in.tenant_id);
    in.role = (kn_role)(role % 3);
    in.exp = exp;
    const unsigned char *key = p;
    size_t keylen = (size_t)(end - p);

    char tok[1024];
    int n = kn_jwt_sign(&in, NOW, key, keylen, tok, sizeof tok);
    if (n < 0)
        return; /* text that is not UTF-8 cannot go into JSON */
    FUZZ_CHECK((size_t)n < sizeof tok && strlen(tok) == (size_t)n);
    /* A short buffer is refused, never overrun. */
    char small[64];
    FUZZ_CHECK(kn_jwt_sign(&in, NOW, key, keylen, small, sizeof small) == -1);

    kn_identity out;
    kn_status st = {0};
    kn_code rc = kn_jwt_verify(tok, (size_t)n, key, keylen, NOW, &out, &st);
    int valid = kn_is_uuid(in.user_id) && kn_is_uuid(in.tenant_id) && in.role != KN_ROLE_NONE &&
                (exp >= NOW - LEEWAY_S);
    if (!valid) {
        FUZZ_CHECK(rc == KN_UNAUTHENTICATED);
        return;
    }
    if (rc != KN_OK)
        fprintf(stderr, "refused: %s\n", st.message);
    FUZZ_CHECK(rc == KN_OK);
    FUZZ_CHECK(strcmp(out.user_id, in.user_id) == 0 && strcmp(out.tenant_id, in.tenant_id) == 0);
    FUZZ_CHECK(out.role == in.role && out.exp == in.exp);
    /* Any one byte changed: refused (the signature binds the exact text). */
    size_t at = mut[0] % (size_t)n;
    char was = tok[at];
    tok[at] = (char)mut[1];
    if (tok[at] == was)
        tok[at] = (char)(mut[1] ^ 0x80);
    rc = kn_jwt_verify(tok, (size_t)n, key, keylen, NOW, &out, &st);
    if (rc != KN_UNAUTHENTICATED)
        fprintf(stderr, "byte %zu changed from 0x%02x to 0x%02x: still accepted\n", at,
                (unsigned char)was, (unsigned char)tok[at]);
    FUZZ_CHECK(rc == KN_UNAUTHENTICATED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0)
        verify_any(data + 1, size - 1);
    else
        round_trip(data + 1, size - 1);
    return 0;
}
