/* Resync after the database connection came back: every AOR is read again (changes told meanwhile were
 * missed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "registrar.h"

static struct sipd_db_stmt *st_aors;

/* The AOR keys to read again: those in memory, then those the database has. */
struct keys {
	char **v;
	size_t n, cap;
	int err;
};

static void keys_add(struct keys *k, const char *aor, size_t len)
{
	char **grown;

	if (k->err)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;

		if (!(grown = realloc(k->v, cap * sizeof(*grown)))) {
			k->err = ENOMEM;
			return;
		}
		k->v = grown;
		k->cap = cap;
	}
	if (!(k->v[k->n] = strndup(aor, len)))
		k->err = ENOMEM;
	else
		k->n++;
}

static void add_memory_key(struct reg_aor *a, void *arg)
{
	keys_add(arg, a->aor, strlen(a->aor));
}

/* DB lock held: the AORs with live rows join the list, then every AOR listed is read again. */
static int reread(void *arg)
{
	struct keys *k = arg;
	bool row;
	int err = sipd_db_bind_int(st_aors, 1, sipd_db_now());

	while (!err && (err = sipd_db_step(st_aors, &row)) == 0 && row) {
		struct sipd_str aor = sipd_db_column_str(st_aors, 0);

		keys_add(k, aor.p, aor.len);
	}
	sipd_db_reset(st_aors);
	if (!err)
		err = k->err;
	for (size_t i = 0; !err && i < k->n; i++)
		err = reg_store_reload_aor(k->v[i]);
	return err;
}

/* DB thread, without the lock: the connection is back. */
static void on_reconnected(void *arg, const char *channel, const char *payload)
{
	struct keys k = {0};
	int err;

	(void)arg;
	(void)channel;
	(void)payload;
	reg_table_each(add_memory_key, &k);
	if ((err = k.err) || (err = sipd_db_transaction(reread, &k)) != 0)
		SIPD_WARN("bindings not read again after the database came back: %s", strerror(err));
	else
		SIPD_NOTICE("database back: bindings of %zu AORs read again", k.n);
	for (size_t i = 0; i < k.n; i++)
		free(k.v[i]);
	free(k.v);
}

int reg_resync_init(void)
{
	int err;

	if (!reg_cluster_shared())
		return 0;
	if ((err = sipd_db_prepare(&st_aors, "SELECT DISTINCT aor FROM contacts WHERE expires > ?")))
		return err;
	return sipd_db_listen(SIPD_DB_RECONNECTED, on_reconnected, NULL);
}
