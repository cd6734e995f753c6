/* Pure helpers of assign-svc (no I/O), unit-tested by
 * tests/unit/test_assign_util.c. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "assign.h"
#include "kn_validate.h"

#include <sodium.h>

char *assign_like_pattern(kn_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = kn_arena_alloc(a, 2 * n + 3);
    char *p = out;
    *p++ = '%';
    for (size_t i = 0; i < n; i++) {
        /* ILIKE's default escape character is the backslash. */
        if (s[i] == '\\' || s[i] == '%' || s[i] == '_')
            *p++ = '\\';
        *p++ = s[i];
    }
    *p++ = '%';
    *p = '\0';
    return out;
}

/* Deliberately loose (RFC 5321 addresses are varied): one '@' with text on
 * both sides, a dot in the domain, no spaces, at most 254 bytes. */
kn_code assign_check_email(const char *field, const char *email, kn_status *st)
{
    if (kn_check_text(field, email, 3, 254, st) != KN_OK)
        return st->code;
    const char *at = strchr(email, '@');
    if (!at || at == email || strchr(at + 1, '@') || !at[1] || !strchr(at + 1, '.') ||
        at[strlen(at) - 1] == '.')
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: not an email address", field);
    for (const char *p = email; *p; p++) {
        if (isspace((unsigned char)*p))
            return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: not an email address", field);
    }
    return KN_OK;
}

kn_code assign_check_tenant_code(const char *field, const char *code, kn_status *st)
{
    size_t n = strlen(code);
    if (n < 2 || n > 32)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: 2 to 32 characters", field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)code[i];
        if (!(islower(c) || isdigit(c) || c == '-'))
            return kn_status_set(st, KN_INVALID_ARGUMENT,
                                 "%s: only lower-case letters, digits and '-'", field);
    }
    return KN_OK;
}

char *assign_account_key(kn_arena *a, const char *code, const char *email)
{
    char *k = kn_arena_sprintf(a, "%s\n%s", code, email);
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

char *assign_uuid_array(kn_arena *a, char *const *ids, size_t n)
{
    char *out = kn_arena_alloc(a, n * (KN_UUID_STR_LEN + 1) + 3);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t l = strlen(ids[i]);
        if (l > KN_UUID_STR_LEN)
            l = KN_UUID_STR_LEN;
        memcpy(p, ids[i], l);
        p += l;
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

size_t assign_parse_uuid_array(kn_arena *a, const char *s, char ***out)
{
    size_t n = 0;
    *out = NULL;
    if (!s || s[0] != '{' || s[1] == '}' || !s[1])
        return 0;
    for (const char *p = s; *p; p++)
        if (*p == ',')
            n++;
    n++;
    char **ids = kn_arena_alloc(a, sizeof(char *) * n);
    size_t k = 0;
    const char *p = s + 1;
    while (*p && *p != '}' && k < n) {
        const char *e = p;
        while (*e && *e != ',' && *e != '}')
            e++;
        ids[k++] = kn_arena_strndup(a, p, (size_t)(e - p));
        p = *e == ',' ? e + 1 : e;
    }
    *out = ids;
    return k;
}

void assign_uuid_v4(char out[KN_UUID_STR_LEN + 1])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, KN_UUID_STR_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}
