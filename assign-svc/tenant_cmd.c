/* assign-svc create-tenant: creates a tenant and its first hq user (the
 * operator's way in; scripts/create-tenant wraps it). Runs the migrations
 * first, so it works on an empty database. Idempotent: an existing tenant
 * code or user email is reused and reported, never changed. The password
 * comes from an environment variable (never argv, which `ps` shows); when
 * none is given a random one is generated and printed once. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "assign.h"
#include "kn_config.h"
#include "kn_log.h"
#include "kn_validate.h"

#ifndef KN_DEFAULT_MIGRATIONS_DIR
#define KN_DEFAULT_MIGRATIONS_DIR "migrations"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: assign-svc create-tenant --code CODE --name NAME --email EMAIL\n"
               "         [--display-name NAME] [--time-zone TZ] [--password-env VAR]\n"
               "  Creates the tenant (unless CODE exists) and its first hq user (unless\n"
               "  EMAIL exists in it). The password is read from the environment variable\n"
               "  VAR (default KN_NEW_PASSWORD); if unset, one is generated and printed.\n"
               "  Database: KN_ASSIGN_SVC_DATABASE_URL. Prints one JSON object.\n");
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int assign_create_tenant_main(int argc, char **argv)
{
    const char *code = NULL, *name = NULL, *email = NULL, *display = NULL, *tz = "UTC";
    const char *pwenv = "KN_NEW_PASSWORD";
    static const struct option opts[] = {{"code", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"email", required_argument, NULL, 'e'},
                                         {"display-name", required_argument, NULL, 'd'},
                                         {"time-zone", required_argument, NULL, 't'},
                                         {"password-env", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            code = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'e':
            email = optarg;
            break;
        case 'd':
            display = optarg;
            break;
        case 't':
            tz = optarg;
            break;
        case 'p':
            pwenv = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!code || !name || !email) {
        usage(stderr);
        return 2;
    }
    if (!display)
        display = name;
    /* Codes are stored lower-case (login matches them case-insensitively). */
    static char code_lc[64];
    snprintf(code_lc, sizeof(code_lc), "%s", code);
    for (char *p = code_lc; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    code = code_lc;

    kn_log_init("assign-svc");
    int rc = 1;
    kn_pg *pg = NULL;
    kn_arena *a = kn_arena_new(8192);
    kn_status st;
    kn_status_clear(&st);
    kn_service_config cfg;
    char generated[33] = "";
    char hash[128] = "";

    if (assign_check_tenant_code("code", code, &st) != KN_OK ||
        kn_check_text("name", name, 1, 200, &st) != KN_OK ||
        kn_check_text("display-name", display, 1, 200, &st) != KN_OK ||
        kn_check_text("time-zone", tz, 1, 64, &st) != KN_OK ||
        assign_check_email("email", email, &st) != KN_OK)
        goto done;
    if (sodium_init() < 0 || assign_settings_load(&st) != KN_OK ||
        kn_service_config_load(&cfg, "assign-svc", "127.0.0.1:7103", KN_DEFAULT_MIGRATIONS_DIR,
                               &st) != KN_OK)
        goto done;
    const char *pw = getenv(pwenv);
    if (pw && *pw) {
        if (assign_check_password(pwenv, pw, &st) != KN_OK)
            goto done;
    } else {
        unsigned char rnd[12];
        randombytes_buf(rnd, sizeof(rnd));
        /* 16 characters of base64url: 96 random bits. */
        sodium_bin2base64(generated, sizeof(generated), rnd, sizeof(rnd),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        pw = generated;
    }
    if (kn_pg_migrate(cfg.database_url, cfg.migrations_dir, &st) != KN_OK)
        goto done;
    pg = kn_pg_new(cfg.database_url);
    if (!pg || kn_pg_ensure(pg, &st) != KN_OK || kn_pg_begin(pg, &st) != KN_OK)
        goto done;
    char *tenant_id = NULL;
    int tenant_created = 0, user_created = 0;
    if (assign_store_tenant_ensure(pg, a, code, name, tz, &tenant_id, &tenant_created, &st) !=
        KN_OK)
        goto rollback;
    assign_user_row u;
    int found = 0;
    if (assign_store_auth_lookup(pg, a, code, email, &u, &found, &st) != KN_OK)
        goto rollback;
    if (!found) {
        if (assign_hash_password(pw, hash, sizeof(hash), &st) != KN_OK)
            goto rollback;
        char uid[KN_UUID_STR_LEN + 1];
        assign_uuid_v4(uid);
        int replayed = 0;
        if (assign_store_user_insert(pg, a, tenant_id, uid, display, email, "",
                                     KONNECT__ASSIGN__V1__USER_ROLE__USER_ROLE_HQ, hash, "", &u,
                                     &replayed, &st) != KN_OK)
            goto rollback;
        user_created = 1;
    }
    if (kn_pg_commit(pg, &st) != KN_OK)
        goto done;

    printf("{\"tenant_id\":");
    json_str(stdout, tenant_id);
    printf(",\"tenant_code\":");
    json_str(stdout, code);
    printf(",\"tenant_created\":%s,\"user_id\":", tenant_created ? "true" : "false");
    json_str(stdout, u.id);
    printf(",\"email\":");
    json_str(stdout, u.email);
    printf(",\"user_created\":%s", user_created ? "true" : "false");
    if (user_created && generated[0]) {
        printf(",\"password\":");
        json_str(stdout, generated);
    }
    printf("}\n");
    rc = 0;
    goto done;
rollback:
    kn_pg_rollback(pg);
done:
    if (rc != 0)
        fprintf(stderr, "assign-svc create-tenant: %s\n", st.message[0] ? st.message : "failed");
    sodium_memzero(hash, sizeof(hash));
    sodium_memzero(generated, sizeof(generated));
    if (pg)
        kn_pg_free(pg);
    kn_arena_free(a);
    return rc;
}
