/* transcode: JSON <-> protobuf by the proto3 JSON mapping, driven only by
 * protobuf-c descriptors, so one converter serves every message of the API.
 *
 * Names: lowerCamelCase derived from the snake_case field name (protobuf-c
 * descriptors carry no json_name); on input the proto name is accepted too.
 * Enums by their full value name (on input also the number; for query
 * parameters also the short name without the enum's prefix, any case).
 * 64-bit integers are written as strings and read from strings or numbers.
 * google.protobuf.Timestamp is an RFC 3339 string, the wrapper types
 * (BoolValue, ...) are their bare value. Output emits every scalar and
 * repeated field, defaults included, and omits unset message fields.
 *
 * Memory for decoded messages comes from the given ProtobufCAllocator (the
 * request's arena); nothing here frees. Errors are written to err as a
 * message that names the field (as the client spelled the path, e.g.
 * "stockLines[1].quantity"). */
#ifndef GW_TRANSCODE_H
#define GW_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define GW_ERR_MAX 256

/* snake_case -> lowerCamelCase ("assignee_user_id" -> "assigneeUserId"). */
void gw_json_name(const char *proto_name, char *out, size_t outlen);

/* The field whose JSON name or proto name is name, or NULL. */
const ProtobufCFieldDescriptor *gw_field_lookup(const ProtobufCMessageDescriptor *d,
                                                const char *name);

/* A zeroed, initialised message of type d. */
ProtobufCMessage *gw_msg_new(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *al);

/* Fills msg from a JSON object. Members whose name is in deny
 * (NULL-terminated list of JSON names, checked at the top level only) are
 * refused as not settable; unknown members are refused. Returns 0, or -1
 * with err set. */
int gw_json_to_msg(const json_t *obj, ProtobufCMessage *msg, ProtobufCAllocator *al,
                   const char *const *deny, char *err, size_t errlen);

/* The JSON of msg (a new reference), or NULL on out of memory. */
json_t *gw_msg_to_json(const ProtobufCMessage *msg);

/* Sets one top-level field from text (a query parameter or a path
 * variable): scalars and enums (short names allowed), Timestamp and the
 * wrapper types; a repeated field gets the value appended. Returns 0, or -1
 * with err set. */
int gw_set_field_text(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, const char *value,
                      ProtobufCAllocator *al, char *err, size_t errlen);

/* RFC 3339 <-> seconds + nanos. Parse returns 0 or -1. Format writes
 * "2024-05-01T10:00:00Z", with 3, 6 or 9 fractional digits when needed. */
int gw_rfc3339_parse(const char *s, int64_t *seconds, int32_t *nanos);
void gw_rfc3339_format(int64_t seconds, int32_t nanos, char *out, size_t outlen);

#endif
