/* Page tokens (kn_pagetoken.c).
 * First byte even: the rest (up to a NUL) is decoded for a fixed query
 * hash; an accepted token has a NUL-terminated id and encodes back to the
 * very same text (base64url without padding is canonical), and is refused
 * for any other query.
 * First byte odd: a round trip of a key built from the input (8 bytes of
 * query hash, 8 of time, the rest the id up to its first NUL). */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kn_pagetoken.h"

#define HASH UINT64_C(0x0123456789abcdef)

static void decode_any(const uint8_t *data, size_t size)
{
    char *tok = malloc(size + 1);
    FUZZ_CHECK(tok != NULL);
    memcpy(tok, data, size);
    tok[size] = '\0';
    kn_page_key key;
    kn_status st = {0};
    memset(&key, 0xA5, sizeof key);
    kn_code rc = kn_page_token_decode("page_token", tok, HASH, &key, &st);
    if (rc != KN_OK) {
        FUZZ_CHECK(rc == KN_INVALID_ARGUMENT && strstr(st.message, "page_token") != NULL);
        free(tok);
        return;
    }
    FUZZ_CHECK(memchr(key.id, '\0', sizeof key.id) != NULL);
    char again[256];
    int n = kn_page_token_encode(&key, HASH, again, sizeof again);
    FUZZ_CHECK(n > 0 && strcmp(again, tok) == 0);
    FUZZ_CHECK(kn_page_token_decode("page_token", tok, HASH ^ 1, &key, &st) == KN_INVALID_ARGUMENT);
    free(tok);
}

static void round_trip(const uint8_t *data, size_t size)
{
    uint64_t hash = 0;
    kn_page_key in, out;
    memset(&in, 0, sizeof in);
    size_t k = size < 8 ? size : 8;
    memcpy(&hash, data, k);
    data += k;
    size -= k;
    k = size < 8 ? size : 8;
    memcpy(&in.time_us, data, k);
    data += k;
    size -= k;
    k = size < sizeof in.id - 1 ? size : sizeof in.id - 1;
    memcpy(in.id, data, k);

    char tok[256];
    int n = kn_page_token_encode(&in, hash, tok, sizeof tok);
    FUZZ_CHECK(n > 0 && (size_t)n == strlen(tok));
    /* Too small an output buffer is refused, never overrun. */
    char *small = malloc((size_t)n);
    FUZZ_CHECK(small != NULL);
    FUZZ_CHECK(kn_page_token_encode(&in, hash, small, (size_t)n) == -1);
    free(small);

    kn_status st = {0};
    FUZZ_CHECK(kn_page_token_decode("t", tok, hash, &out, &st) == KN_OK);
    FUZZ_CHECK(out.time_us == in.time_us && strcmp(out.id, in.id) == 0);
    FUZZ_CHECK(kn_page_token_decode("t", tok, ~hash, &out, &st) == KN_INVALID_ARGUMENT);
    /* Cut short: refused. */
    tok[n - 1] = '\0';
    FUZZ_CHECK(kn_page_token_decode("t", tok, hash, &out, &st) == KN_INVALID_ARGUMENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0)
        decode_any(data + 1, size - 1);
    else
        round_trip(data + 1, size - 1);
    return 0;
}
