/* kn_validate: input checks. Messages name the field but never echo the
 * value: it may be long, binary, or personal data. */
#include "kn_validate.h"

#include <string.h>

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int kn_is_base64url(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int kn_is_uuid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!is_hex(c)) {
            return 0; /* also stops at the NUL of a short string */
        }
    }
    return s[36] == '\0';
}

kn_code kn_check_uuid(const char *field, const char *value, kn_status *st)
{
    if (!value || !*value)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s is required", field);
    if (!kn_is_uuid(value))
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be a UUID", field);
    return KN_OK;
}

kn_code kn_check_uuid_opt(const char *field, const char *value, kn_status *st)
{
    if (!value || !*value)
        return KN_OK;
    return kn_check_uuid(field, value, st);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) and its code point, or 0. */
static size_t utf8_next(const unsigned char *s, size_t avail, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, min = 0x80, *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, min = 0x800, *cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, min = 0x10000, *cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return n;
}

static kn_code check_text(const char *field, const char *value, size_t min, size_t max,
                          int multiline, kn_status *st)
{
    const unsigned char *s = (const unsigned char *)(value ? value : "");
    size_t len = strlen((const char *)s);
    if (len < min) {
        if (len == 0)
            return kn_status_set(st, KN_INVALID_ARGUMENT, "%s is required", field);
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be at least %zu bytes", field, min);
    }
    if (len > max)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be at most %zu bytes", field, max);
    for (size_t i = 0; i < len;) {
        unsigned cp = 0;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (n == 0)
            return kn_status_set(st, KN_INVALID_ARGUMENT, "%s is not valid UTF-8", field);
        int control = cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
        if (control && multiline && (cp == '\n' || cp == '\t' || cp == '\r'))
            control = 0;
        if (control)
            return kn_status_set(st, KN_INVALID_ARGUMENT, "%s contains a control character", field);
        i += n;
    }
    return KN_OK;
}

kn_code kn_check_text(const char *field, const char *value, size_t min, size_t max, kn_status *st)
{
    return check_text(field, value, min, max, 0, st);
}

kn_code kn_check_multiline_text(const char *field, const char *value, size_t min, size_t max,
                                kn_status *st)
{
    return check_text(field, value, min, max, 1, st);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

kn_code kn_check_date(const char *field, const char *value, kn_status *st)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = value ? value : "";
    if (!*s)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s is required", field);
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            goto bad;
    }
    if (s[10] != '\0')
        goto bad;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1)
        goto bad;
    int dim = mdays[m - 1] + (m == 2 && is_leap(y));
    if (d > dim)
        goto bad;
    return KN_OK;
bad:
    return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be a calendar date YYYY-MM-DD", field);
}

kn_code kn_page_size(const char *field, int value, int def, int max, int *out, kn_status *st)
{
    if (value < 0)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must not be negative", field);
    if (value == 0)
        value = def;
    if (value > max)
        value = max;
    *out = value;
    return KN_OK;
}
