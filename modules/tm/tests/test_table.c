/* The transaction table: tm_cell_foreach visits every linked cell, however long its bucket. */
#include <criterion/criterion.h>

#include "fake.h"

static void count_cell(struct tm_cell *c, void *arg)
{
	(void)c;
	(*(unsigned *)arg)++;
}

static void fill_one_bucket(unsigned cells)
{
	for (unsigned i = 0; i < cells; i++) {
		struct tm_cell *c = NULL;

		cr_assert_eq(tm_cell_new(&c), 0);
		/* The same key hash: every cell lands in one bucket. */
		cr_assert_null(tm_cell_link(c, 42, NULL, NULL));
		tm_cell_unref(c);
	}
}

TestSuite(table, .init = fake_setup, .fini = tm_table_destroy);

Test(table, foreach_visits_a_short_bucket)
{
	unsigned seen = 0;

	fill_one_bucket(3);
	tm_cell_foreach(count_cell, &seen);
	cr_assert_eq(seen, 3);
}

Test(table, foreach_visits_every_cell_of_a_long_bucket)
{
	unsigned seen = 0;

	fill_one_bucket(200);
	cr_assert_eq(tm_cell_count(), 200);
	tm_cell_foreach(count_cell, &seen);
	cr_assert_eq(seen, 200, "visited %u of 200 cells in one bucket", seen);
}
