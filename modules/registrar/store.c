/* The contacts table: migrations, loading at start, and the durable writes the DB thread runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/stats.h>

#include "registrar.h"

#define CONTACT_COLUMNS                                                                                      \
	"aor, contact, expires, q, call_id, cseq, path, received, user_agent, updated, flow, node, node_uri"

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE contacts("
	" aor TEXT NOT NULL, contact TEXT NOT NULL,"
	" expires INTEGER NOT NULL, q INTEGER NOT NULL DEFAULT -1,"
	" call_id TEXT NOT NULL, cseq INTEGER NOT NULL,"
	" path TEXT, received TEXT, conn_id INTEGER NOT NULL DEFAULT 0,"
	" user_agent TEXT, updated INTEGER NOT NULL,"
	" PRIMARY KEY (aor, contact));"
	"CREATE INDEX contacts_expires ON contacts(expires);"},
    /*
     * The node that took each binding and how other nodes reach it (docs/deploy.md). The flow
     * (connection id) moves to a BIGINT column: version 1's conn_id is a 32-bit INTEGER on
     * PostgreSQL, and stays unused.
     */
    {2, "ALTER TABLE contacts ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE contacts ADD COLUMN node_uri TEXT;"
	"ALTER TABLE contacts ADD COLUMN flow BIGINT NOT NULL DEFAULT 0"},
    /*
     * Every refresh moved its row in this index: a quarter of a durable
     * REGISTER's database time. Expired rows are now deleted by key, and
     * swept once at start-up without it.
     */
    {3, "DROP INDEX IF EXISTS contacts_expires"},
};

/* Counters of AORs replaced from the database, by hash slot (reg_store_reloads). */
#define RELOAD_SLOTS 4096
/* AORs per statement when many are read again at once. */
#define RELOAD_CHUNK 256

static struct sipd_db_stmt *st_load, *st_load_aor, *st_load_aors, *st_delete_one, *st_upsert,
    *st_delete_expired, *st_delete_expired_one;
static atomic_uint reloads[RELOAD_SLOTS];

int reg_store_init(void)
{
	int err;

	if ((err = sipd_db_migrate("registrar", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err;
	if ((err = sipd_db_prepare(&st_load, "SELECT " CONTACT_COLUMNS " FROM contacts WHERE expires > ?")) ||
	    (err = sipd_db_prepare(&st_load_aor, "SELECT " CONTACT_COLUMNS
						 " FROM contacts WHERE aor = ? AND expires > ?")) ||
	    (err = sipd_db_prepare(&st_delete_one, "DELETE FROM contacts WHERE aor = ? AND contact = ?")) ||
	    (err = sipd_db_prepare(
		 &st_upsert,
		 "INSERT INTO contacts(" CONTACT_COLUMNS ") "
		 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(aor, contact) DO UPDATE "
		 "SET expires = excluded.expires, q = excluded.q, call_id = excluded.call_id, "
		 "cseq = excluded.cseq, path = excluded.path, received = excluded.received, "
		 "user_agent = excluded.user_agent, updated = excluded.updated, "
		 "flow = excluded.flow, node = excluded.node, node_uri = excluded.node_uri")) ||
	    (err = sipd_db_prepare(&st_delete_expired, "DELETE FROM contacts WHERE expires <= ?")) ||
	    (err = sipd_db_prepare(&st_delete_expired_one,
				   "DELETE FROM contacts WHERE aor = ? AND contact = ? AND expires <= ?")))
		return err;
	/* Only nodes sharing PostgreSQL read many AORs again at once; rows come in strcmp order. */
	if (reg_cluster_shared() &&
	    (err = sipd_db_prepare(&st_load_aors, "SELECT " CONTACT_COLUMNS " FROM contacts WHERE aor = "
						  "ANY(string_to_array(?, chr(10))) AND expires > ? "
						  "ORDER BY aor COLLATE \"C\"")))
		return err;
	return 0;
}

static char *col_dup(struct sipd_db_stmt *s, int idx)
{
	struct sipd_str v = sipd_db_column_str(s, idx);

	return sipd_db_column_null(s, idx) || !v.len ? NULL : strndup(v.p, v.len);
}

/*
 * The binding in the current row of st (CONTACT_COLUMNS order), or NULL
 * (ENOMEM in *err, or an unusable row). At start-up (restart true) this
 * node's connections are gone: their ids no longer mean anything.
 */
static struct reg_contact *row_contact(struct sipd_db_stmt *st, bool restart, int *err)
{
	struct reg_contact *c = calloc(1, sizeof(*c));
	struct sipd_str node = sipd_db_column_str(st, 11);
	char *received;
	bool mine = sipd_str_eq(node, sipd_str_c(sipd_node_id())) || node.len == 0;

	if (!c) {
		*err = ENOMEM;
		return NULL;
	}
	c->uri = col_dup(st, 1);
	c->expires = sipd_db_column_int(st, 2);
	c->q = (int)sipd_db_column_int(st, 3);
	c->call_id = col_dup(st, 4);
	c->cseq = (uint32_t)sipd_db_column_int(st, 5);
	c->path = col_dup(st, 6);
	received = col_dup(st, 7);
	c->user_agent = col_dup(st, 8);
	c->updated = sipd_db_column_int(st, 9);
	c->conn_id = mine && restart ? 0 : (uint64_t)sipd_db_column_int(st, 10);
	if (!mine) {
		c->node = col_dup(st, 11);
		c->node_uri = col_dup(st, 12);
	}
	if (received && sipd_peer_parse(sipd_str_c(received), &c->proto, &c->src) != 0)
		memset(&c->src, 0, sizeof(c->src));
	free(received);
	/* A row without its URI or Call-ID (or a foreign one without its node) is skipped. */
	if (!c->uri || !c->call_id || (!mine && !c->node)) {
		reg_contact_free(c);
		return NULL;
	}
	return c;
}

static int sweep_expired(int64_t now)
{
	int err = sipd_db_bind_int(st_delete_expired, 1, now);

	if (!err)
		err = sipd_db_step(st_delete_expired, NULL);
	sipd_db_reset(st_delete_expired);
	return err;
}

/* Rows that expired while no node held them in memory (this one was down) go first, in one scan. */
static int load_rows(void *arg)
{
	int64_t now = *(int64_t *)arg;
	unsigned loaded = 0;
	bool row;
	int err;

	if ((err = sweep_expired(now)) || (err = sipd_db_bind_int(st_load, 1, now)))
		return err;
	while ((err = sipd_db_step(st_load, &row)) == 0 && row) {
		struct sipd_str aor = sipd_db_column_str(st_load, 0);
		char key[512];
		struct reg_contact *c;
		struct reg_aor *a;

		if (aor.len >= sizeof(key))
			continue;
		memcpy(key, aor.p, aor.len);
		key[aor.len] = '\0';
		if (!(c = row_contact(st_load, true, &err))) {
			if (err)
				break;
			continue;
		}
		if (!(a = reg_table_lock(key, true))) {
			reg_contact_free(c);
			reg_table_unlock(key);
			err = ENOMEM;
			break;
		}
		c->next = a->contacts;
		a->contacts = c;
		a->count++;
		reg_table_unlock(key);
		loaded++;
	}
	sipd_db_reset(st_load);
	if (!err) {
		sipd_stat_add(reg_st_bindings, loaded);
		SIPD_INFO("%u bindings loaded", loaded);
	}
	return err;
}

int reg_store_load(int64_t now)
{
	return sipd_db_transaction(load_rows, &now);
}

static unsigned slot(const char *aor)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)aor; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % RELOAD_SLOTS;
}

unsigned reg_store_reloads(const char *aor)
{
	return atomic_load_explicit(&reloads[slot(aor)], memory_order_relaxed);
}

static void free_list(struct reg_contact *list)
{
	while (list) {
		struct reg_contact *next = list->next;

		reg_contact_free(list);
		list = next;
	}
}

/* Puts list (n bindings read from the database) in place of key's bindings in memory; takes list. */
static int replace_aor(const char *key, struct reg_contact *list, unsigned n)
{
	struct reg_aor *a = reg_table_lock(key, n > 0);
	struct reg_contact *old = NULL;
	unsigned before = 0;

	if (!a && n > 0) {
		reg_table_unlock(key);
		free_list(list);
		return ENOMEM;
	}
	/* Counted under the bucket lock, where save() takes its snapshot's count. */
	atomic_fetch_add_explicit(&reloads[slot(key)], 1, memory_order_relaxed);
	if (a) {
		before = a->count;
		old = a->contacts;
		a->contacts = list;
		a->count = n;
	}
	reg_table_unlock(key);
	sipd_stat_add(reg_st_bindings, (int64_t)n - (int64_t)before);
	free_list(old);
	return 0;
}

int reg_store_reload_aor(const char *key)
{
	struct reg_contact *list = NULL;
	unsigned n = 0;
	bool row;
	int err;

	if ((err = sipd_db_bind_str(st_load_aor, 1, sipd_str_c(key))) ||
	    (err = sipd_db_bind_int(st_load_aor, 2, sipd_db_now()))) {
		sipd_db_reset(st_load_aor);
		return err;
	}
	while ((err = sipd_db_step(st_load_aor, &row)) == 0 && row) {
		struct reg_contact *c = row_contact(st_load_aor, false, &err);

		if (!c) {
			if (err)
				break;
			continue;
		}
		c->next = list;
		list = c;
		n++;
	}
	sipd_db_reset(st_load_aor);
	if (err) {
		free_list(list);
		return err;
	}
	return replace_aor(key, list, n);
}

struct reload_chunk {
	const char **keys; /* sorted, distinct */
	unsigned n;
	struct reg_contact **lists;
	unsigned *counts;
};

/* strcmp of key and aor (not NUL-terminated). */
static int key_cmp(const char *key, struct sipd_str aor)
{
	size_t len = strlen(key);
	int c = memcmp(key, aor.p, len < aor.len ? len : aor.len);

	return c ? c : (len > aor.len) - (len < aor.len);
}

/* Reads the bindings of ch's AORs in one statement, each row to its AOR's list. */
static int read_chunk(void *arg)
{
	struct reload_chunk *ch = arg;
	size_t len = 0;
	char *joined;
	unsigned k = 0;
	bool row;
	int err;

	for (unsigned i = 0; i < ch->n; i++)
		len += strlen(ch->keys[i]) + 1;
	if (!(joined = malloc(len)))
		return ENOMEM;
	len = 0;
	for (unsigned i = 0; i < ch->n; i++) {
		size_t l = strlen(ch->keys[i]);

		memcpy(joined + len, ch->keys[i], l);
		len += l;
		joined[len++] = '\n';
	}
	err = sipd_db_bind_str(st_load_aors, 1, (struct sipd_str){joined, len - 1});
	free(joined);
	if (!err)
		err = sipd_db_bind_int(st_load_aors, 2, sipd_db_now());
	while (!err && (err = sipd_db_step(st_load_aors, &row)) == 0 && row) {
		struct sipd_str aor = sipd_db_column_str(st_load_aors, 0);
		struct reg_contact *c;

		while (k < ch->n && key_cmp(ch->keys[k], aor) < 0)
			k++;
		if (k == ch->n || key_cmp(ch->keys[k], aor) != 0)
			continue;
		if (!(c = row_contact(st_load_aors, false, &err))) {
			if (err)
				break;
			continue;
		}
		c->next = ch->lists[k];
		ch->lists[k] = c;
		ch->counts[k]++;
	}
	sipd_db_reset(st_load_aors);
	return err;
}

static int key_order(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int reg_store_reload_aors(const char **keys, unsigned n)
{
	struct reload_chunk ch;
	unsigned distinct = 0;
	int err = 0;

	if (!st_load_aors || !n)
		return st_load_aors ? 0 : ENODEV;
	qsort(keys, n, sizeof(*keys), key_order);
	for (unsigned i = 0; i < n; i++)
		if (!distinct || strcmp(keys[distinct - 1], keys[i]) != 0)
			keys[distinct++] = keys[i];
	ch.lists = calloc(RELOAD_CHUNK, sizeof(*ch.lists));
	ch.counts = calloc(RELOAD_CHUNK, sizeof(*ch.counts));
	for (unsigned at = 0; !err && at < distinct; at += ch.n) {
		if (!ch.lists || !ch.counts) {
			err = ENOMEM;
			break;
		}
		ch.keys = keys + at;
		ch.n = distinct - at < RELOAD_CHUNK ? distinct - at : RELOAD_CHUNK;
		memset(ch.lists, 0, RELOAD_CHUNK * sizeof(*ch.lists));
		memset(ch.counts, 0, RELOAD_CHUNK * sizeof(*ch.counts));
		err = sipd_db_read(read_chunk, &ch);
		for (unsigned i = 0; i < ch.n; i++) {
			int e = err ? 0 : replace_aor(ch.keys[i], ch.lists[i], ch.counts[i]);

			if (err)
				free_list(ch.lists[i]);
			if (e)
				err = e;
		}
	}
	free(ch.lists);
	free(ch.counts);
	return err;
}

static char *maybe_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* True if uri is one of r's contacts (compared as RFC 3261 19.1.4 says, when the parser offers it). */
static bool in_request(const struct reg_request *r, const char *uri)
{
	for (unsigned i = 0; i < r->n; i++)
		if (reg_cfg.uri_equal ? reg_cfg.uri_equal(sipd_str_c(uri), r->contacts[i].uri)
				      : sipd_str_eq(sipd_str_c(uri), r->contacts[i].uri))
			return true;
	return false;
}

static bool in_aor(const struct reg_aor *aor, const char *uri)
{
	for (const struct reg_contact *c = aor->contacts; c; c = c->next)
		if (strcmp(c->uri, uri) == 0)
			return true;
	return false;
}

static int row_take(struct reg_row *r, const struct reg_contact *c)
{
	char rcv[96];

	sipd_peer_format(rcv, sizeof(rcv), c->proto, &c->src);
	r->uri = strdup(c->uri);
	r->call_id = strdup(c->call_id);
	r->path = maybe_dup(c->path);
	r->user_agent = maybe_dup(c->user_agent);
	r->received = rcv[0] ? strdup(rcv) : NULL;
	r->cseq = c->cseq;
	r->q = c->q;
	r->expires = c->expires;
	r->updated = c->updated;
	r->conn_id = c->conn_id;
	if (!r->uri || !r->call_id || (c->path && !r->path) || (c->user_agent && !r->user_agent) ||
	    (rcv[0] && !r->received))
		return ENOMEM;
	return 0;
}

int reg_snapshot_take(struct reg_snapshot *out, const struct reg_aor *aor, bool write,
		      const struct reg_request *r, char *const *before, unsigned n_before)
{
	struct reg_snapshot s = {.write = write, .reloads = reg_store_reloads(aor->aor)};

	if (!(s.aor = strdup(aor->aor)))
		return ENOMEM;
	if (write && aor->count && !(s.rows = calloc(aor->count, sizeof(*s.rows))))
		goto nomem;
	if (write && n_before && !(s.removed = calloc(n_before, sizeof(*s.removed))))
		goto nomem;
	for (const struct reg_contact *c = write ? aor->contacts : NULL; c; c = c->next) {
		if (c->node || !in_request(r, c->uri))
			continue;
		if (row_take(&s.rows[s.n++], c))
			goto nomem;
	}
	for (unsigned i = 0; write && i < n_before; i++) {
		if (in_aor(aor, before[i]))
			continue;
		if (!(s.removed[s.n_removed++] = strdup(before[i])))
			goto nomem;
	}
	*out = s;
	return 0;
nomem:
	reg_snapshot_free(&s);
	return ENOMEM;
}

void reg_snapshot_free(struct reg_snapshot *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		free(s->rows[i].uri);
		free(s->rows[i].path);
		free(s->rows[i].call_id);
		free(s->rows[i].user_agent);
		free(s->rows[i].received);
	}
	for (unsigned i = 0; i < s->n_removed; i++)
		free(s->removed[i]);
	free(s->removed);
	free(s->rows);
	free(s->aor);
	memset(s, 0, sizeof(*s));
}

static int bind_opt(struct sipd_db_stmt *st, int idx, const char *v)
{
	return v ? sipd_db_bind_str(st, idx, sipd_str_c(v)) : sipd_db_bind_null(st, idx);
}

int reg_store_delete_one(const char *aor, const char *contact)
{
	int err;

	if (!(err = sipd_db_bind_str(st_delete_one, 1, sipd_str_c(aor))) &&
	    !(err = sipd_db_bind_str(st_delete_one, 2, sipd_str_c(contact))))
		err = sipd_db_step(st_delete_one, NULL);
	sipd_db_reset(st_delete_one);
	return err;
}

static int upsert(struct sipd_str aor, const struct reg_row *r)
{
	const char *node_uri = sipd_node_address();
	int err;

	if (sipd_db_bind_str(st_upsert, 1, aor) || sipd_db_bind_str(st_upsert, 2, sipd_str_c(r->uri)) ||
	    sipd_db_bind_int(st_upsert, 3, r->expires) || sipd_db_bind_int(st_upsert, 4, r->q) ||
	    sipd_db_bind_str(st_upsert, 5, sipd_str_c(r->call_id)) ||
	    sipd_db_bind_int(st_upsert, 6, r->cseq) || bind_opt(st_upsert, 7, r->path) ||
	    bind_opt(st_upsert, 8, r->received) || bind_opt(st_upsert, 9, r->user_agent) ||
	    sipd_db_bind_int(st_upsert, 10, r->updated) ||
	    sipd_db_bind_int(st_upsert, 11, (int64_t)r->conn_id) ||
	    sipd_db_bind_str(st_upsert, 12, sipd_str_c(sipd_node_id())) ||
	    bind_opt(st_upsert, 13, node_uri[0] ? node_uri : NULL))
		err = ENOMEM;
	else
		err = sipd_db_step(st_upsert, NULL);
	sipd_db_reset(st_upsert);
	return err;
}

int reg_store_write(const struct reg_snapshot *s)
{
	int err = 0;

	if (!s->write)
		return 0;
	for (unsigned i = 0; !err && i < s->n_removed; i++)
		err = reg_store_delete_one(s->aor, s->removed[i]);
	for (unsigned i = 0; !err && i < s->n; i++)
		err = upsert(sipd_str_c(s->aor), &s->rows[i]);
	if (!err)
		err = reg_cluster_changed(s->aor);
	/*
	 * Memory holds this write, unless another node's change to the AOR,
	 * read before this write was committed, replaced it since the snapshot:
	 * then memory takes the merged rows.
	 */
	if (!err && reg_cluster_shared() && reg_store_reloads(s->aor) != s->reloads)
		err = reg_store_reload_aor(s->aor);
	return err;
}

static int delete_expired_one(const char *key, int64_t now)
{
	const char *contact = key + strlen(key) + 1;
	int err;

	/* A refresh stored since memory dropped the binding keeps the row. */
	if (!(err = sipd_db_bind_str(st_delete_expired_one, 1, sipd_str_c(key))) &&
	    !(err = sipd_db_bind_str(st_delete_expired_one, 2, sipd_str_c(contact))) &&
	    !(err = sipd_db_bind_int(st_delete_expired_one, 3, now)))
		err = sipd_db_step(st_delete_expired_one, NULL);
	sipd_db_reset(st_delete_expired_one);
	return err;
}

int reg_store_delete_expired(const struct reg_expired *gone, int64_t now)
{
	int err = 0;

	if (gone->lost)
		return sweep_expired(now);
	for (unsigned i = 0; !err && i < gone->n; i++)
		err = delete_expired_one(gone->keys[i], now);
	return err;
}
