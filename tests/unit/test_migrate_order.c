/* kn_pg_migration_sort: the order kn_pg_migrate applies files in. Numeric
 * prefixes compare as numbers ("10_x" after "2_y"), whatever their width,
 * ties and unnumbered files by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kn_pg.h"

static void check(const char **in, const char **want, size_t n)
{
    char *names[32];
    for (size_t i = 0; i < n; i++)
        names[i] = (char *)in[i];
    kn_pg_migration_sort(names, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], want[i]) != 0)
            fail_msg("position %zu: got %s, want %s", i, names[i], want[i]);
}

static void test_numeric_not_lexical(void **state)
{
    const char *in[] = {"10_x.sql", "2_y.sql", "1_a.sql", "100_z.sql", "9_b.sql"};
    const char *want[] = {"1_a.sql", "2_y.sql", "9_b.sql", "10_x.sql", "100_z.sql"};
    check(in, want, 5);
}

static void test_zero_padded(void **state)
{
    const char *in[] = {"0010_orders.sql", "0002_b.sql", "0001_a.sql", "0003_idx.sql"};
    const char *want[] = {"0001_a.sql", "0002_b.sql", "0003_idx.sql", "0010_orders.sql"};
    check(in, want, 4);
}

static void test_mixed_widths(void **state)
{
    /* 0002 and 2 are the same number: tie broken by name. */
    const char *in[] = {"11_k.sql", "0002_b.sql", "2_a.sql", "0001_init.sql", "003_c.sql"};
    const char *want[] = {"0001_init.sql", "0002_b.sql", "2_a.sql", "003_c.sql", "11_k.sql"};
    check(in, want, 5);
}

static void test_unnumbered_last(void **state)
{
    const char *in[] = {"zz.sql", "1_a.sql", "seed.sql", "2_b.sql"};
    const char *want[] = {"1_a.sql", "2_b.sql", "seed.sql", "zz.sql"};
    check(in, want, 4);
}

static void test_huge_prefix(void **state)
{
    /* Longer than any integer type: still compared as numbers. */
    const char *in[] = {"123456789012345678901234567890_b.sql", "99999999999999999999_a.sql",
                        "0_z.sql"};
    const char *want[] = {"0_z.sql", "99999999999999999999_a.sql",
                          "123456789012345678901234567890_b.sql"};
    check(in, want, 3);
}

static void test_trivial(void **state)
{
    kn_pg_migration_sort(NULL, 0);
    const char *in[] = {"1_a.sql"};
    check(in, in, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_not_lexical), cmocka_unit_test(test_zero_padded),
        cmocka_unit_test(test_mixed_widths),        cmocka_unit_test(test_unnumbered_last),
        cmocka_unit_test(test_huge_prefix),         cmocka_unit_test(test_trivial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
