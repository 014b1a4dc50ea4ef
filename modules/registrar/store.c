/* The contacts table: migrations, loading at start, and the durable writes the DB thread runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/stats.h>

#include "registrar.h"

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE contacts("
	" aor TEXT NOT NULL, contact TEXT NOT NULL,"
	" expires INTEGER NOT NULL, q INTEGER NOT NULL DEFAULT -1,"
	" call_id TEXT NOT NULL, cseq INTEGER NOT NULL,"
	" path TEXT, received TEXT, conn_id INTEGER NOT NULL DEFAULT 0,"
	" user_agent TEXT, updated INTEGER NOT NULL,"
	" PRIMARY KEY (aor, contact));"
	"CREATE INDEX contacts_expires ON contacts(expires);"},
};

static struct sipd_db_stmt *st_load, *st_delete_aor, *st_insert, *st_delete_expired;

int reg_store_init(void)
{
	int err;

	if ((err = sipd_db_migrate("registrar", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err;
	if ((err =
		 sipd_db_prepare(&st_load, "SELECT aor, contact, expires, q, call_id, cseq, path, received, "
					   "user_agent, updated FROM contacts WHERE expires > ?")) ||
	    (err = sipd_db_prepare(&st_delete_aor, "DELETE FROM contacts WHERE aor = ?")) ||
	    (err =
		 sipd_db_prepare(&st_insert, "INSERT INTO contacts(aor, contact, expires, q, call_id, cseq, "
					     "path, received, conn_id, user_agent, updated) "
					     "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) ||
	    (err = sipd_db_prepare(&st_delete_expired, "DELETE FROM contacts WHERE expires <= ?")))
		return err;
	return 0;
}

void reg_received_format(char *buf, size_t size, enum sipd_proto proto, const union sipd_sockaddr *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) {
		snprintf(buf, size, "%s", "");
		return;
	}
	sipd_sockaddr_ip(a, ip, sizeof(ip));
	snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "%s:[%s]:%u" : "%s:%s:%u", sipd_proto_name(proto),
		 ip, sipd_sockaddr_port(a));
}

int reg_received_parse(const char *s, enum sipd_proto *proto, union sipd_sockaddr *a)
{
	const char *colon = strchr(s, ':'), *port;
	char ip[INET6_ADDRSTRLEN];
	size_t n;
	long p;

	if (!colon)
		return EINVAL;
	*proto = sipd_proto_parse((struct sipd_str){s, (size_t)(colon - s)});
	s = colon + 1;
	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (n = (size_t)(end - s - 1)) >= sizeof(ip))
			return EINVAL;
		memcpy(ip, s + 1, n);
		ip[n] = '\0';
		port = end + 2;
		a->sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip, &a->sin6.sin6_addr) != 1)
			return EINVAL;
	} else {
		const char *c = strrchr(s, ':');

		if (!c || (n = (size_t)(c - s)) >= sizeof(ip))
			return EINVAL;
		memcpy(ip, s, n);
		ip[n] = '\0';
		port = c + 1;
		a->sin.sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &a->sin.sin_addr) != 1)
			return EINVAL;
	}
	p = strtol(port, NULL, 10);
	if (p <= 0 || p > 65535 || *proto == SIPD_PROTO_NONE)
		return EINVAL;
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = htons((uint16_t)p);
	else
		a->sin6.sin6_port = htons((uint16_t)p);
	return 0;
}

static char *col_dup(struct sipd_db_stmt *s, int idx)
{
	struct sipd_str v = sipd_db_column_str(s, idx);

	return sipd_db_column_null(s, idx) || !v.len ? NULL : strndup(v.p, v.len);
}

static int load_rows(void *arg)
{
	int64_t now = *(int64_t *)arg;
	unsigned loaded = 0;
	bool row;
	int err;

	if ((err = sipd_db_bind_int(st_load, 1, now)))
		return err;
	while ((err = sipd_db_step(st_load, &row)) == 0 && row) {
		struct sipd_str aor = sipd_db_column_str(st_load, 0);
		char key[512], *received;
		struct reg_contact *c;
		struct reg_aor *a;

		if (aor.len >= sizeof(key))
			continue;
		memcpy(key, aor.p, aor.len);
		key[aor.len] = '\0';
		if (!(c = calloc(1, sizeof(*c)))) {
			err = ENOMEM;
			break;
		}
		c->uri = col_dup(st_load, 1);
		c->expires = sipd_db_column_int(st_load, 2);
		c->q = (int)sipd_db_column_int(st_load, 3);
		c->call_id = col_dup(st_load, 4);
		c->cseq = (uint32_t)sipd_db_column_int(st_load, 5);
		c->path = col_dup(st_load, 6);
		received = col_dup(st_load, 7);
		c->user_agent = col_dup(st_load, 8);
		c->updated = sipd_db_column_int(st_load, 9);
		/* The connection died with the previous process: the next request opens a new one. */
		c->conn_id = 0;
		if (received && reg_received_parse(received, &c->proto, &c->src) != 0)
			memset(&c->src, 0, sizeof(c->src));
		free(received);
		if (!c->uri || !c->call_id) {
			reg_contact_free(c);
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

static char *maybe_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int reg_snapshot_take(struct reg_snapshot *out, const struct reg_aor *aor, bool write)
{
	struct reg_snapshot s = {.write = write};
	char rcv[96];
	unsigned i = 0;

	if (!(s.aor = strdup(aor->aor)))
		return ENOMEM;
	if (write && aor->count) {
		if (!(s.rows = calloc(aor->count, sizeof(*s.rows)))) {
			free(s.aor);
			return ENOMEM;
		}
		for (const struct reg_contact *c = aor->contacts; c && i < aor->count; c = c->next, i++) {
			struct reg_row *r = &s.rows[i];

			reg_received_format(rcv, sizeof(rcv), c->proto, &c->src);
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
			s.n = i + 1;
			if (!r->uri || !r->call_id || (c->path && !r->path) ||
			    (c->user_agent && !r->user_agent) || (rcv[0] && !r->received)) {
				reg_snapshot_free(&s);
				return ENOMEM;
			}
		}
	}
	*out = s;
	return 0;
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
	free(s->rows);
	free(s->aor);
	memset(s, 0, sizeof(*s));
}

static int bind_opt(struct sipd_db_stmt *st, int idx, const char *v)
{
	return v ? sipd_db_bind_str(st, idx, sipd_str_c(v)) : sipd_db_bind_null(st, idx);
}

int reg_store_write(const struct reg_snapshot *s)
{
	struct sipd_str aor = sipd_str_c(s->aor);
	int err;

	if (!s->write)
		return 0;
	if (!(err = sipd_db_bind_str(st_delete_aor, 1, aor)))
		err = sipd_db_step(st_delete_aor, NULL);
	sipd_db_reset(st_delete_aor);
	for (unsigned i = 0; !err && i < s->n; i++) {
		const struct reg_row *r = &s->rows[i];

		if (sipd_db_bind_str(st_insert, 1, aor) ||
		    sipd_db_bind_str(st_insert, 2, sipd_str_c(r->uri)) ||
		    sipd_db_bind_int(st_insert, 3, r->expires) || sipd_db_bind_int(st_insert, 4, r->q) ||
		    sipd_db_bind_str(st_insert, 5, sipd_str_c(r->call_id)) ||
		    sipd_db_bind_int(st_insert, 6, r->cseq) || bind_opt(st_insert, 7, r->path) ||
		    bind_opt(st_insert, 8, r->received) ||
		    sipd_db_bind_int(st_insert, 9, (int64_t)r->conn_id) ||
		    bind_opt(st_insert, 10, r->user_agent) || sipd_db_bind_int(st_insert, 11, r->updated))
			err = ENOMEM;
		else
			err = sipd_db_step(st_insert, NULL);
		sipd_db_reset(st_insert);
	}
	return err;
}

int reg_store_delete_expired(int64_t now)
{
	int err = sipd_db_bind_int(st_delete_expired, 1, now);

	if (!err)
		err = sipd_db_step(st_delete_expired, NULL);
	sipd_db_reset(st_delete_expired);
	return err;
}
