/* kn_pagetoken: the token is base64url (no padding) of
 *   version (1 byte, = 1) | query hash (8, big-endian) | time_us (8, big-endian)
 *   | id length (1) | id | check (4, big-endian)
 * where check is the low 32 bits of FNV-1a over every byte before it. The
 * query hash ties the token to the query (tenant, caller, filters); the check
 * catches a token edited by hand or cut short, so it is refused rather than
 * silently jumping to another place in the list. Neither is a secret: every
 * query is scoped by tenant anyway, a forged position only skips rows the
 * caller may read. */
#include "kn_pagetoken.h"

#include <sodium.h>
#include <string.h>

#include "kn_log.h"
#include "kn_validate.h"

#define KN_PAGE_TOKEN_VERSION 1
#define KN_PAGE_FIXED         (1 + 8 + 8 + 1 + 4)
#define KN_PAGE_MAX_BIN       (KN_PAGE_FIXED + sizeof(((kn_page_key *)0)->id) - 1)
#define KN_PAGE_B64           sodium_base64_VARIANT_URLSAFE_NO_PADDING

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t kn_page_query_hash(const char *const *parts, size_t n)
{
    /* 0xFF never occurs in UTF-8, so it separates parts unambiguously:
     * ("ab", "c") and ("a", "bc") hash differently. */
    static const unsigned char sep = 0xFF;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        const char *s = parts[i] ? parts[i] : "";
        h = fnv1a(h, (const unsigned char *)s, strlen(s));
        h = fnv1a(h, &sep, 1);
    }
    return h;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xFF);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int kn_page_token_encode(const kn_page_key *key, uint64_t query_hash, char *out, size_t outlen)
{
    unsigned char bin[KN_PAGE_MAX_BIN];
    size_t idlen = strnlen(key->id, sizeof(key->id));
    if (idlen >= sizeof(key->id))
        return -1;
    size_t o = 0;
    bin[o++] = KN_PAGE_TOKEN_VERSION;
    put_be64(bin + o, query_hash);
    o += 8;
    put_be64(bin + o, (uint64_t)key->time_us);
    o += 8;
    bin[o++] = (unsigned char)idlen;
    memcpy(bin + o, key->id, idlen);
    o += idlen;
    uint32_t check = (uint32_t)fnv1a(FNV_OFFSET, bin, o);
    for (int i = 3; i >= 0; i--)
        bin[o++] = (unsigned char)(check >> (8 * i));
    size_t need = sodium_base64_ENCODED_LEN(o, KN_PAGE_B64);
    if (need > outlen)
        return -1;
    sodium_bin2base64(out, outlen, bin, o, KN_PAGE_B64);
    return (int)(need - 1);
}

kn_code kn_page_token_decode(const char *field, const char *token, uint64_t query_hash,
                             kn_page_key *key, kn_status *st)
{
    unsigned char bin[KN_PAGE_MAX_BIN + 1];
    size_t n = 0;
    const char *end = NULL;
    const char *why;
    size_t tlen = token ? strlen(token) : 0;

    if (tlen == 0 || tlen > 2 * sizeof(bin)) {
        why = "length";
        goto bad;
    }
    if (!kn_is_base64url(token, tlen) ||
        sodium_base642bin(bin, sizeof(bin), token, tlen, NULL, &n, &end, KN_PAGE_B64) != 0 ||
        end != token + tlen) {
        why = "base64";
        goto bad;
    }
    if (n < KN_PAGE_FIXED) {
        why = "length";
        goto bad;
    }
    if (bin[0] != KN_PAGE_TOKEN_VERSION) {
        why = "version";
        goto bad;
    }
    size_t idlen = bin[17];
    if (n != KN_PAGE_FIXED + idlen || idlen >= sizeof(key->id)) {
        why = "length";
        goto bad;
    }
    size_t body = n - 4;
    uint32_t check = (uint32_t)fnv1a(FNV_OFFSET, bin, body);
    uint32_t got = ((uint32_t)bin[body] << 24) | ((uint32_t)bin[body + 1] << 16) |
                   ((uint32_t)bin[body + 2] << 8) | bin[body + 3];
    if (check != got) {
        why = "checksum";
        goto bad;
    }
    if (get_be64(bin + 1) != query_hash) {
        why = "another query";
        goto bad;
    }
    if (memchr(bin + 18, '\0', idlen)) {
        why = "id";
        goto bad;
    }
    key->time_us = (int64_t)get_be64(bin + 9);
    memcpy(key->id, bin + 18, idlen);
    key->id[idlen] = '\0';
    return KN_OK;
bad:
    kn_log_debug("%s refused: %s", field, why);
    return kn_status_set(st, KN_INVALID_ARGUMENT, "invalid %s", field);
}
