/* kn_jwt: every refusal the runtime relies on, with tokens crafted by hand
 * (header and payload JSON chosen by the test), and interop with a token
 * made by Node's crypto.createHmac. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "kn_jwt.h"

#define NOW    1700000000
#define SECRET "unit-test-secret"
#define SUB    "11111111-2222-4333-8444-555555555555"
#define TENANT "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static const unsigned char *secret = (const unsigned char *)SECRET;
static const size_t secret_len = sizeof(SECRET) - 1;

static void b64(const char *in, size_t len, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, (const unsigned char *)in, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload signed with key (HS256), as any issuer would. */
static void craft(const char *header, const char *payload, const char *key, char *out,
                  size_t outlen)
{
    char h[1024], p[2048], s[128];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    b64(header, strlen(header), h, sizeof(h));
    b64(payload, strlen(payload), p, sizeof(p));
    snprintf(out, outlen, "%s.%s", h, p);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    b64((const char *)mac, sizeof(mac), s, sizeof(s));
    size_t n = strlen(out);
    snprintf(out + n, outlen - n, ".%s", s);
}

static const char *HS256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static char *payload(char *buf, size_t len, const char *role, long long exp, const char *extra)
{
    snprintf(buf, len, "{\"sub\":\"%s\",\"tenant\":\"%s\",\"role\":\"%s\",\"exp\":%lld%s}", SUB,
             TENANT, role, exp, extra ? extra : "");
    return buf;
}

static kn_code verify(const char *tok, kn_identity *id, kn_status *st)
{
    memset(st, 0, sizeof(*st));
    return kn_jwt_verify(tok, strlen(tok), secret, secret_len, NOW, id, st);
}

static void expect_refused(const char *tok, const char *msg_part)
{
    kn_identity id;
    kn_status st;
    kn_code rc = verify(tok, &id, &st);
    if (rc != KN_UNAUTHENTICATED || !strstr(st.message, msg_part))
        fail_msg("want UNAUTHENTICATED containing '%s', got %d '%s'", msg_part, rc, st.message);
}

static void test_good_token(void **state)
{
    char tok[4096], p[1024];
    kn_identity id;
    kn_status st;
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, ",\"iat\":1700000000"), SECRET, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &id, &st), KN_OK);
    assert_string_equal(id.user_id, SUB);
    assert_string_equal(id.tenant_id, TENANT);
    assert_int_equal(id.role, KN_ROLE_HQ);
    assert_int_equal(id.exp, NOW + 3600);

    craft("{\"alg\":\"HS256\"}", payload(p, sizeof(p), "technician", NOW + 60, NULL), SECRET, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &id, &st), KN_OK);
    assert_int_equal(id.role, KN_ROLE_TECHNICIAN);
}

static void test_expired(void **state)
{
    char tok[4096], p[1024];
    craft(HS256, payload(p, sizeof(p), "hq", NOW - 3600, NULL), SECRET, tok, sizeof(tok));
    expect_refused(tok, "token expired");
    /* Within the 30 s leeway: accepted; just beyond it: refused. */
    kn_identity id;
    kn_status st;
    craft(HS256, payload(p, sizeof(p), "hq", NOW - 30, NULL), SECRET, tok, sizeof(tok));
    assert_int_equal(verify(tok, &id, &st), KN_OK);
    craft(HS256, payload(p, sizeof(p), "hq", NOW - 31, NULL), SECRET, tok, sizeof(tok));
    expect_refused(tok, "token expired");
}

static void test_nbf(void **state)
{
    char tok[4096], p[1024];
    kn_identity id;
    kn_status st;
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, ",\"nbf\":1700000600"), SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "nbf");
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, ",\"nbf\":1700000010"), SECRET, tok,
          sizeof(tok));
    assert_int_equal(verify(tok, &id, &st), KN_OK); /* within leeway */
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, ",\"nbf\":\"soon\""), SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "claim nbf must be an integer");
}

static void test_tampered_payload(void **state)
{
    char tok[4096], p[1024], forged[4096], p2[2048];
    craft(HS256, payload(p, sizeof(p), "technician", NOW + 3600, NULL), SECRET, tok, sizeof(tok));
    /* Swap in a payload claiming hq, keep header and signature. */
    const char *d1 = strchr(tok, '.');
    const char *d2 = strchr(d1 + 1, '.');
    payload(p, sizeof(p), "hq", NOW + 3600, NULL);
    b64(p, strlen(p), p2, sizeof(p2));
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(d1 - tok), tok, p2, d2);
    expect_refused(forged, "bad signature");
    /* One flipped character of the signature. */
    strcpy(forged, tok);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    expect_refused(forged, "signature");
}

static void test_wrong_secret(void **state)
{
    char tok[4096], p[1024];
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, NULL), "another-secret", tok, sizeof(tok));
    expect_refused(tok, "bad signature");
}

static void test_alg_none_and_others(void **state)
{
    char tok[4096], p[1024], h[256], pp[2048];
    payload(p, sizeof(p), "hq", NOW + 3600, NULL);
    /* alg none, unsigned: "header.payload." */
    b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", 27, h, sizeof(h));
    b64(p, strlen(p), pp, sizeof(pp));
    snprintf(tok, sizeof(tok), "%s.%s.", h, pp);
    expect_refused(tok, "malformed");
    /* alg none with a (meaningless) signature segment. */
    craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "unsupported alg");
    craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "unsupported alg");
    craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "unsupported alg");
    craft("{\"alg\":\"hs256\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "unsupported alg");
    craft("{\"alg\":256}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "unsupported alg");
    craft("{\"typ\":\"JWT\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "missing alg");
    craft("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "malformed token header"); /* duplicate keys */
    craft("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", p, SECRET, tok, sizeof(tok));
    expect_refused(tok, "crit");
}

static void test_missing_claims(void **state)
{
    char tok[4096];
    craft(HS256, "{\"tenant\":\"" TENANT "\",\"role\":\"hq\",\"exp\":1800000000}", SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "missing claim sub");
    craft(HS256, "{\"sub\":\"" SUB "\",\"role\":\"hq\",\"exp\":1800000000}", SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "missing claim tenant");
    craft(HS256, "{\"sub\":\"" SUB "\",\"tenant\":\"" TENANT "\",\"exp\":1800000000}", SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "missing claim role");
    craft(HS256, "{\"sub\":\"" SUB "\",\"tenant\":\"" TENANT "\",\"role\":\"hq\"}", SECRET, tok,
          sizeof(tok));
    expect_refused(tok, "missing claim exp");
    craft(HS256, "{\"sub\":\"" SUB "\",\"tenant\":\"" TENANT "\",\"role\":\"hq\",\"exp\":1.8e9}",
          SECRET, tok, sizeof(tok));
    expect_refused(tok, "claim exp must be an integer");
    craft(HS256,
          "{\"sub\":\"not-a-uuid\",\"tenant\":\"" TENANT "\",\"role\":\"hq\",\"exp\":1800000000}",
          SECRET, tok, sizeof(tok));
    expect_refused(tok, "claim sub must be a UUID");
    craft(HS256, "{\"sub\":\"" SUB "\",\"tenant\":7,\"role\":\"hq\",\"exp\":1800000000}", SECRET,
          tok, sizeof(tok));
    expect_refused(tok, "claim tenant must be a UUID");
    craft(HS256, "[1,2,3]", SECRET, tok, sizeof(tok));
    expect_refused(tok, "malformed token payload");
}

static void test_bad_role(void **state)
{
    char tok[4096], p[1024];
    craft(HS256, payload(p, sizeof(p), "admin", NOW + 3600, NULL), SECRET, tok, sizeof(tok));
    expect_refused(tok, "claim role");
    craft(HS256, payload(p, sizeof(p), "HQ", NOW + 3600, NULL), SECRET, tok, sizeof(tok));
    expect_refused(tok, "claim role");
    craft(HS256, payload(p, sizeof(p), "", NOW + 3600, NULL), SECRET, tok, sizeof(tok));
    expect_refused(tok, "claim role");
}

static void test_malformed(void **state)
{
    char tok[4096], p[1024];
    kn_identity id;
    kn_status st;
    craft(HS256, payload(p, sizeof(p), "hq", NOW + 3600, NULL), SECRET, tok, sizeof(tok));
    expect_refused("", "missing token");
    expect_refused("abc", "3 segments");
    expect_refused("a.b", "3 segments");
    expect_refused("a.b.c.d", "3 segments");
    expect_refused("..", "empty segment");
    expect_refused(".b.c", "empty segment");

    char bad[4200];
    snprintf(bad, sizeof(bad), "%s.x", tok); /* 4 segments */
    expect_refused(bad, "3 segments");
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[3] = '*'; /* not base64url */
    expect_refused(bad, "malformed token header");
    snprintf(bad, sizeof(bad), "%s=", tok); /* padding is not base64url JWT */
    expect_refused(bad, "malformed token signature");
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[strlen(bad) - 4] = '\0'; /* short signature */
    expect_refused(bad, "malformed token signature");
    snprintf(bad, sizeof(bad), "%s", tok);
    char *d2 = strrchr(bad, '.');
    d2[1] = '+'; /* standard base64 alphabet, not url-safe */
    expect_refused(bad, "malformed token signature");
    /* Header that is base64 of something that is not JSON. */
    craft("not json", p, SECRET, bad, sizeof(bad));
    expect_refused(bad, "malformed token header");

    /* Length cap, checked before any parsing. */
    static char huge[9000];
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    expect_refused(huge, "too long");

    /* token_len is honoured: a valid token followed by junk bytes. */
    size_t n = strlen(tok);
    snprintf(bad, sizeof(bad), "%sJUNK", tok);
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_jwt_verify(bad, n, secret, secret_len, NOW, &id, &st), KN_OK);
    assert_int_equal(kn_jwt_verify(bad, n + 4, secret, secret_len, NOW, &id, &st),
                     KN_UNAUTHENTICATED);
    /* The message never echoes the token. */
    assert_null(strstr(st.message, "JUNK"));
}

static void test_sign_round_trip(void **state)
{
    kn_identity in = {.role = KN_ROLE_TECHNICIAN, .exp = NOW + 3600}, out;
    kn_status st;
    char tok[1024];
    strcpy(in.user_id, SUB);
    strcpy(in.tenant_id, TENANT);
    int n = kn_jwt_sign(&in, NOW, secret, secret_len, tok, sizeof(tok));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_jwt_verify(tok, (size_t)n, secret, secret_len, NOW, &out, &st), KN_OK);
    assert_string_equal(out.user_id, SUB);
    assert_string_equal(out.tenant_id, TENANT);
    assert_int_equal(out.role, KN_ROLE_TECHNICIAN);
    assert_int_equal(out.exp, NOW + 3600);
    /* Another secret refuses it; a too-small buffer is reported. */
    assert_int_equal(kn_jwt_verify(tok, (size_t)n, (const unsigned char *)"x", 1, NOW, &out, &st),
                     KN_UNAUTHENTICATED);
    assert_int_equal(kn_jwt_sign(&in, NOW, secret, secret_len, tok, 40), -1);
    assert_int_equal(kn_jwt_sign(&in, NOW, secret, secret_len, tok, (size_t)n), -1);
    assert_int_equal(kn_jwt_sign(&in, NOW, secret, secret_len, tok, (size_t)n + 1), n);
    /* A long (> 64 byte block) secret works both ways. */
    unsigned char longkey[200];
    memset(longkey, 'k', sizeof(longkey));
    n = kn_jwt_sign(&in, NOW, longkey, sizeof(longkey), tok, sizeof(tok));
    assert_true(n > 0);
    assert_int_equal(kn_jwt_verify(tok, (size_t)n, longkey, sizeof(longkey), NOW, &out, &st),
                     KN_OK);
}

/* Made with Node: crypto.createHmac("sha256", "node-secret") over the
 * base64url of {"alg":"HS256","typ":"JWT"} and of the payload
 * {sub, tenant, role:"technician", iat:1700000000, exp:1700003600}. */
static const char *NODE_TOKEN =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMTExMTExMS0yMjIyLTQzMzMtODQ0NC01NTU1NTU1NTU1NTUiLCJ0ZW5hbnQiOiJhYWFhYWFhYS1iYm"
    "JiLTRjY2MtOGRkZC1lZWVlZWVlZWVlZWUiLCJyb2xlIjoidGVjaG5pY2lhbiIsImlhdCI6MTcwMDAwMDAwMCwiZXhw"
    "IjoxNzAwMDAzNjAwfQ.OFBz_2VknEWfK3M5OtOwlQYLarlTpusV1Tw1k-k4Z5M";

static void test_node_interop(void **state)
{
    const unsigned char *key = (const unsigned char *)"node-secret";
    kn_identity id, in = {.role = KN_ROLE_TECHNICIAN, .exp = 1700003600};
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_jwt_verify(NODE_TOKEN, strlen(NODE_TOKEN), key, 11, 1700000000, &id, &st),
                     KN_OK);
    assert_string_equal(id.user_id, SUB);
    assert_int_equal(id.role, KN_ROLE_TECHNICIAN);
    /* kn_jwt_sign writes the same claims in the same order: byte-identical. */
    char tok[1024];
    strcpy(in.user_id, SUB);
    strcpy(in.tenant_id, TENANT);
    assert_true(kn_jwt_sign(&in, 1700000000, key, 11, tok, sizeof(tok)) > 0);
    assert_string_equal(tok, NODE_TOKEN);
}

static void test_role_name(void **state)
{
    assert_string_equal(kn_role_name(KN_ROLE_HQ), "hq");
    assert_string_equal(kn_role_name(KN_ROLE_TECHNICIAN), "technician");
    assert_string_equal(kn_role_name(KN_ROLE_NONE), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_token),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_nbf),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_missing_claims),
        cmocka_unit_test(test_bad_role),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_node_interop),
        cmocka_unit_test(test_role_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
