/* The generic proto3 JSON transcoder (see transcode.h). */
#include "transcode.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PATH_MAX_LEN 160

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void *al_alloc(ProtobufCAllocator *al, size_t n)
{
    void *p = al->alloc(al->allocator_data, n ? n : 1);
    if (p != NULL)
        memset(p, 0, n ? n : 1);
    return p;
}

static char *al_strndup(ProtobufCAllocator *al, const char *s, size_t n)
{
    char *p = al_alloc(al, n + 1);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

void gw_json_name(const char *proto_name, char *out, size_t outlen)
{
    size_t o = 0;
    int upper = 0;
    if (outlen == 0)
        return;
    for (const char *p = proto_name; *p != '\0' && o + 1 < outlen; p++) {
        if (*p == '_') {
            upper = 1;
            continue;
        }
        out[o++] = upper ? (char)toupper((unsigned char)*p) : *p;
        upper = 0;
    }
    out[o] = '\0';
}

const ProtobufCFieldDescriptor *gw_field_lookup(const ProtobufCMessageDescriptor *d,
                                                const char *name)
{
    char jn[128];
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (strcmp(f->name, name) == 0)
            return f;
        gw_json_name(f->name, jn, sizeof jn);
        if (strcmp(jn, name) == 0)
            return f;
    }
    return NULL;
}

ProtobufCMessage *gw_msg_new(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *al)
{
    ProtobufCMessage *m = al_alloc(al, d->sizeof_message);
    if (m != NULL)
        d->message_init(m);
    return m;
}

/* --- well-known types ------------------------------------------------- */

static int is_timestamp(const ProtobufCMessageDescriptor *d)
{
    return strcmp(d->name, "google.protobuf.Timestamp") == 0;
}

/* google.protobuf.BoolValue and its siblings: one field named value. */
static int is_wrapper(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->name);
    return strncmp(d->name, "google.protobuf.", 16) == 0 && n > 5 &&
           strcmp(d->name + n - 5, "Value") == 0 && d->n_fields == 1 &&
           strcmp(d->fields[0].name, "value") == 0;
}

/* --- RFC 3339 ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int gw_rfc3339_parse(const char *s, int64_t *seconds, int32_t *nanos)
{
    int Y, M, D, h, mi, sec;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (Y < 1 || M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 59)
        return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > mdays[M - 1] + (M == 2 && leap))
        return -1;
    const char *p = s + 19;
    int32_t ns = 0;
    if (*p == '.') {
        int n = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 9)
                ns = ns * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -1;
        for (; n < 9; n++)
            ns *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + (int64_t)h * 3600 +
                (int64_t)mi * 60 + sec - offset;
    /* google.protobuf.Timestamp's range, 0001-01-01T00:00:00Z to
     * 9999-12-31T23:59:59Z: an offset can push a valid-looking local time
     * out of it, and such a time could not be printed back. */
    if (t < -62135596800LL || t > 253402300799LL)
        return -1;
    *seconds = t;
    *nanos = ns;
    return 0;
}

void gw_rfc3339_format(int64_t seconds, int32_t nanos, char *out, size_t outlen)
{
    int64_t days = seconds / 86400, rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char frac[16] = "";
    if (nanos > 0 && nanos < 1000000000) {
        if (nanos % 1000000 == 0)
            snprintf(frac, sizeof frac, ".%03d", nanos / 1000000);
        else if (nanos % 1000 == 0)
            snprintf(frac, sizeof frac, ".%06d", nanos / 1000);
        else
            snprintf(frac, sizeof frac, ".%09d", nanos);
    }
    snprintf(out, outlen, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d%sZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), frac);
}

/* --- base64 (bytes fields) --------------------------------------------- */

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL alphabet, padding optional. */
static int b64_decode(const char *s, size_t n, ProtobufCAllocator *al, ProtobufCBinaryData *out)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    uint8_t *buf = al_alloc(al, n * 3 / 4 + 1);
    if (buf == NULL)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    out->data = buf;
    out->len = o;
    return 0;
}

static json_t *b64_encode(const ProtobufCBinaryData *b)
{
    size_t n = (b->len + 2) / 3 * 4;
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->data[i] << 16;
        if (i + 1 < b->len)
            v |= (uint32_t)b->data[i + 1] << 8;
        if (i + 2 < b->len)
            v |= b->data[i + 2];
        s[o++] = b64std[(v >> 18) & 63];
        s[o++] = b64std[(v >> 12) & 63];
        s[o++] = i + 1 < b->len ? b64std[(v >> 6) & 63] : '=';
        s[o++] = i + 2 < b->len ? b64std[v & 63] : '=';
    }
    s[o] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* --- JSON -> protobuf --------------------------------------------------- */

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* A signed integer from a JSON number or a decimal string. */
static int json_to_i64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != trunc(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18)
            return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s == '\0' || isspace((unsigned char)*s))
            return -1;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *out = x;
        return 0;
    }
    return -1;
}

static int json_to_u64(const json_t *v, uint64_t *out)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (!isdigit((unsigned char)*s))
            return -1;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *out = x;
        return 0;
    }
    int64_t i;
    if (json_to_i64(v, &i) != 0 || i < 0)
        return -1;
    *out = (uint64_t)i;
    return 0;
}

static int json_to_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
            return 0;
        }
        if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
            return 0;
        }
        if (*s == '\0' || isspace((unsigned char)*s))
            return -1;
        errno = 0;
        *out = strtod(s, &end);
        if (errno != 0 || *end != '\0')
            return -1;
        return 0;
    }
    return -1;
}

static int msg_from_json(const json_t *obj, ProtobufCMessage *msg, ProtobufCAllocator *al,
                         const char *const *deny, char *path, char *err, size_t errlen);

/* One value (a scalar, or one element of a repeated field) into slot. */
static int value_from_json(void *slot, const ProtobufCFieldDescriptor *f, const json_t *v,
                           ProtobufCAllocator *al, char *path, char *err, size_t errlen)
{
    int64_t i;
    uint64_t u;
    double dv;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (json_to_i64(v, &i) != 0 || i < INT32_MIN || i > INT32_MAX)
            goto bad_int;
        *(int32_t *)slot = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (json_to_u64(v, &u) != 0 || u > UINT32_MAX)
            goto bad_int;
        *(uint32_t *)slot = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (json_to_i64(v, &i) != 0)
            goto bad_int;
        *(int64_t *)slot = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (json_to_u64(v, &u) != 0)
            goto bad_int;
        *(uint64_t *)slot = u;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (json_to_double(v, &dv) != 0)
            goto bad_num;
        *(float *)slot = (float)dv;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (json_to_double(v, &dv) != 0)
            goto bad_num;
        *(double *)slot = dv;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            set_err(err, errlen, "field \"%s\": expected true or false", path);
            return -1;
        }
        *(protobuf_c_boolean *)slot = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev = NULL;
        if (json_is_string(v))
            ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
        else if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                 json_integer_value(v) <= INT32_MAX)
            ev = protobuf_c_enum_descriptor_get_value(ed, (int)json_integer_value(v));
        if (ev == NULL) {
            set_err(err, errlen, "field \"%s\": not a value of %s", path, ed->name);
            return -1;
        }
        *(int *)slot = ev->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) {
            set_err(err, errlen, "field \"%s\": expected a string", path);
            return -1;
        }
        char *s = al_strndup(al, json_string_value(v), json_string_length(v));
        if (s == NULL)
            goto oom;
        *(char **)slot = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        if (!json_is_string(v) || b64_decode(json_string_value(v), json_string_length(v), al,
                                             (ProtobufCBinaryData *)slot) != 0) {
            set_err(err, errlen, "field \"%s\": expected base64", path);
            return -1;
        }
        return 0;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        ProtobufCMessage *sub = gw_msg_new(md, al);
        if (sub == NULL)
            goto oom;
        if (is_timestamp(md)) {
            int64_t secs;
            int32_t ns;
            if (!json_is_string(v) || gw_rfc3339_parse(json_string_value(v), &secs, &ns) != 0) {
                set_err(err, errlen, "field \"%s\": expected an RFC 3339 time", path);
                return -1;
            }
            /* Timestamp is {base, int64 seconds, int32 nanos} in protobuf-c. */
            const ProtobufCFieldDescriptor *fs = gw_field_lookup(md, "seconds");
            const ProtobufCFieldDescriptor *fn = gw_field_lookup(md, "nanos");
            *(int64_t *)((char *)sub + fs->offset) = secs;
            *(int32_t *)((char *)sub + fn->offset) = ns;
        } else if (is_wrapper(md)) {
            if (value_from_json((char *)sub + md->fields[0].offset, &md->fields[0], v, al, path,
                                err, errlen) != 0)
                return -1;
        } else {
            if (!json_is_object(v)) {
                set_err(err, errlen, "field \"%s\": expected an object", path);
                return -1;
            }
            if (msg_from_json(v, sub, al, NULL, path, err, errlen) != 0)
                return -1;
        }
        *(ProtobufCMessage **)slot = sub;
        return 0;
    }
    }
    set_err(err, errlen, "field \"%s\": unsupported type", path);
    return -1;
bad_int:
    set_err(err, errlen, "field \"%s\": expected an integer in range", path);
    return -1;
bad_num:
    set_err(err, errlen, "field \"%s\": expected a number", path);
    return -1;
oom:
    set_err(err, errlen, "out of memory");
    return -1;
}

static void mark_present(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
             f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
}

static int field_from_json(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                           const json_t *v, ProtobufCAllocator *al, char *path, char *err,
                           size_t errlen)
{
    if (json_is_null(v))
        return 0; /* proto3 JSON: null means the default */
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_is_array(v)) {
            set_err(err, errlen, "field \"%s\": expected an array", path);
            return -1;
        }
        size_t n = json_array_size(v), es = elem_size(f->type);
        char *arr = n ? al_alloc(al, n * es) : NULL;
        if (n && arr == NULL) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        size_t plen = strlen(path);
        for (size_t i = 0; i < n; i++) {
            snprintf(path + plen, PATH_MAX_LEN - plen, "[%zu]", i);
            const json_t *e = json_array_get(v, i);
            if (json_is_null(e)) {
                set_err(err, errlen, "field \"%s\": null in an array", path);
                return -1;
            }
            if (value_from_json(arr + i * es, f, e, al, path, err, errlen) != 0)
                return -1;
        }
        path[plen] = '\0';
        *(size_t *)((char *)msg + f->quantifier_offset) = n;
        *(void **)((char *)msg + f->offset) = arr;
        return 0;
    }
    if (value_from_json((char *)msg + f->offset, f, v, al, path, err, errlen) != 0)
        return -1;
    mark_present(msg, f);
    return 0;
}

static int msg_from_json(const json_t *obj, ProtobufCMessage *msg, ProtobufCAllocator *al,
                         const char *const *deny, char *path, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    size_t plen = strlen(path);
    json_object_foreach((json_t *)obj, key, v)
    {
        snprintf(path + plen, PATH_MAX_LEN - plen, "%s%s", plen ? "." : "", key);
        for (const char *const *d = deny; d != NULL && *d != NULL; d++) {
            if (strcmp(*d, key) == 0) {
                set_err(err, errlen, "field \"%s\" cannot be set in the request body", path);
                return -1;
            }
        }
        const ProtobufCFieldDescriptor *f = gw_field_lookup(msg->descriptor, key);
        if (f == NULL) {
            set_err(err, errlen, "unknown field \"%s\"", path);
            return -1;
        }
        /* The deny list names JSON names; a client may also spell the proto
         * name (tenant_id), which must be refused the same way. */
        char jn[128];
        gw_json_name(f->name, jn, sizeof jn);
        for (const char *const *d = deny; d != NULL && *d != NULL; d++) {
            if (strcmp(*d, jn) == 0) {
                set_err(err, errlen, "field \"%s\" cannot be set in the request body", path);
                return -1;
            }
        }
        if (field_from_json(msg, f, v, al, path, err, errlen) != 0)
            return -1;
        path[plen] = '\0';
    }
    return 0;
}

int gw_json_to_msg(const json_t *obj, ProtobufCMessage *msg, ProtobufCAllocator *al,
                   const char *const *deny, char *err, size_t errlen)
{
    char path[PATH_MAX_LEN + 16] = "";
    if (!json_is_object(obj)) {
        set_err(err, errlen, "the request body must be a JSON object");
        return -1;
    }
    return msg_from_json(obj, msg, al, deny, path, err, errlen);
}

/* --- text (query parameters, path variables) -------------------------- */

/* "OrderStatus" -> "ORDER_STATUS_": the prefix of the enum's value names. */
static void enum_prefix(const char *short_name, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = short_name; *p != '\0' && o + 2 < outlen; p++) {
        if (p != short_name && isupper((unsigned char)*p) && o + 3 < outlen)
            out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)*p);
    }
    out[o++] = '_';
    out[o] = '\0';
}

static json_t *text_to_json(const ProtobufCFieldDescriptor *f, const char *value)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            return json_true();
        if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            return json_false();
        return json_null(); /* rejected by the caller */
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        char name[128], up[96];
        size_t n = strlen(value);
        if (n >= sizeof up)
            return json_string(value);
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)toupper((unsigned char)value[i]);
        if (protobuf_c_enum_descriptor_get_value_by_name(ed, up) != NULL)
            return json_string(up);
        enum_prefix(ed->short_name, name, sizeof name);
        strncat(name, up, sizeof name - strlen(name) - 1);
        if (protobuf_c_enum_descriptor_get_value_by_name(ed, name) != NULL)
            return json_string(name);
        char *end;
        long x = strtol(value, &end, 10);
        if (*value != '\0' && *end == '\0')
            return json_integer(x);
        return json_string(value);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        if (is_wrapper(md))
            return text_to_json(&md->fields[0], value);
        return json_string(value);
    }
    default:
        return json_string(value);
    }
}

int gw_set_field_text(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const char *value,
                      ProtobufCAllocator *al, char *err, size_t errlen)
{
    char path[PATH_MAX_LEN + 16];
    gw_json_name(f->name, path, sizeof path);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && !is_timestamp(f->descriptor) &&
        !is_wrapper(f->descriptor)) {
        set_err(err, errlen, "field \"%s\" cannot be given as text", path);
        return -1;
    }
    json_t *v = text_to_json(f, value);
    if (v == NULL) {
        set_err(err, errlen, "field \"%s\": not valid UTF-8", path);
        return -1;
    }
    if (json_is_null(v)) {
        set_err(err, errlen, "field \"%s\": expected true or false", path);
        return -1;
    }
    int rc;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
        void **arr = (void **)((char *)msg + f->offset);
        size_t es = elem_size(f->type);
        char *grown = al_alloc(al, (*n + 1) * es);
        if (grown == NULL) {
            json_decref(v);
            set_err(err, errlen, "out of memory");
            return -1;
        }
        if (*n)
            memcpy(grown, *arr, *n * es);
        rc = value_from_json(grown + *n * es, f, v, al, path, err, errlen);
        if (rc == 0) {
            *arr = grown;
            (*n)++;
        }
    } else {
        rc = value_from_json((char *)msg + f->offset, f, v, al, path, err, errlen);
        if (rc == 0)
            mark_present(msg, f);
    }
    json_decref(v);
    return rc;
}

/* --- protobuf -> JSON --------------------------------------------------- */

static json_t *msg_to_json(const ProtobufCMessage *msg);

static json_t *value_to_json(const void *slot, const ProtobufCFieldDescriptor *f)
{
    char buf[48];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)slot);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)slot);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)slot);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)slot);
        return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)slot : *(const double *)slot;
        if (isnan(d))
            return json_string("NaN");
        if (isinf(d))
            return json_string(d > 0 ? "Infinity" : "-Infinity");
        return json_real(d);
    }
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)slot);
    case PROTOBUF_C_TYPE_ENUM: {
        int x = *(const int *)slot;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, x);
        return ev ? json_string(ev->name) : json_integer(x);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        json_t *j = json_string(s ? s : "");
        /* A service never sends invalid UTF-8 (protobuf refuses it); if one
         * did, an empty string beats an invalid document. */
        return j ? j : json_string("");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return b64_encode((const ProtobufCBinaryData *)slot);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
        const ProtobufCMessageDescriptor *md = f->descriptor;
        if (sub == NULL)
            return json_null();
        if (is_timestamp(md)) {
            char ts[48];
            const ProtobufCFieldDescriptor *fs = gw_field_lookup(md, "seconds");
            const ProtobufCFieldDescriptor *fn = gw_field_lookup(md, "nanos");
            gw_rfc3339_format(*(const int64_t *)((const char *)sub + fs->offset),
                              *(const int32_t *)((const char *)sub + fn->offset), ts, sizeof ts);
            return json_string(ts);
        }
        if (is_wrapper(md))
            return value_to_json((const char *)sub + md->fields[0].offset, &md->fields[0]);
        return msg_to_json(sub);
    }
    }
    return json_null();
}

static json_t *msg_to_json(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    json_t *obj = json_object();
    char jn[128];
    if (obj == NULL)
        return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)msg;
        json_t *v;
        gw_json_name(f->name, jn, sizeof jn);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            size_t es = elem_size(f->type);
            v = json_array();
            for (size_t k = 0; v != NULL && k < n; k++)
                json_array_append_new(v, value_to_json(arr + k * es, f));
        } else {
            if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                *(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(void *const *)(base + f->offset) == NULL)
                continue;
            v = value_to_json(base + f->offset, f);
        }
        if (v == NULL) {
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, jn, v);
    }
    return obj;
}

json_t *gw_msg_to_json(const ProtobufCMessage *msg)
{
    return msg_to_json(msg);
}
