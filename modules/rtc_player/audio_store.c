/* The audio library: files on disk, their rows in audio_files, and their encoded forms in memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "audio.h"

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE audio_files(name TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, "
	"content_type TEXT NOT NULL, duration_ms INTEGER NOT NULL, library INTEGER NOT NULL DEFAULT 0, "
	"created INTEGER NOT NULL);"
	"CREATE TABLE audio_assignments(username TEXT PRIMARY KEY, audio TEXT NOT NULL, "
	"mode TEXT NOT NULL DEFAULT 'loop', created INTEGER NOT NULL);"
	"CREATE INDEX audio_assignments_audio ON audio_assignments(audio);"
	"CREATE TABLE rtc_player_demo(username TEXT PRIMARY KEY, created INTEGER NOT NULL)"},
};

/* Few files, read at call set-up only: a list under one lock is enough. */
struct entry {
	struct entry *next;
	struct rp_audio *a;
};

static struct {
	pthread_mutex_t lock;  /* the list */
	pthread_mutex_t write; /* serialises add/delete (decoding runs under it, off the workers) */
	struct entry *head;
	struct rp_audio_cfg cfg;
	char cache_dir[PATH_MAX];
	char library_cache[PATH_MAX]; /* shipped files' encodings, shared by every database; may be "" */
	struct sipd_db_stmt *load, *insert, *remove, *unassign;
} store = {.lock = PTHREAD_MUTEX_INITIALIZER, .write = PTHREAD_MUTEX_INITIALIZER};

bool rp_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > RP_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

void rp_audio_ref(struct rp_audio *a)
{
	atomic_fetch_add(&a->refs, 1);
}

void rp_audio_unref(struct rp_audio *a)
{
	if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	rp_opus_free(&a->opus);
	for (size_t i = 0; i < 3; i++)
		free(a->frames[i]);
	free(a->ulaw);
	free(a->alaw);
	free(a->path);
	free(a);
}

struct rp_audio *rp_audio_get(const char *name)
{
	struct rp_audio *found = NULL;

	pthread_mutex_lock(&store.lock);
	for (struct entry *e = store.head; e; e = e->next)
		if (!strcmp(e->a->name, name)) {
			found = e->a;
			rp_audio_ref(found);
			break;
		}
	pthread_mutex_unlock(&store.lock);
	return found;
}

static int list_add(struct rp_audio *a)
{
	struct entry *e = malloc(sizeof(*e));

	if (!e)
		return ENOMEM;
	e->a = a;
	pthread_mutex_lock(&store.lock);
	e->next = store.head;
	store.head = e;
	pthread_mutex_unlock(&store.lock);
	return 0;
}

/* Takes name out of the list; returns its audio (the list's reference) or NULL. */
static struct rp_audio *list_remove(const char *name)
{
	struct rp_audio *a = NULL;

	pthread_mutex_lock(&store.lock);
	for (struct entry **p = &store.head; *p; p = &(*p)->next)
		if (!strcmp((*p)->a->name, name)) {
			struct entry *e = *p;

			*p = e->next;
			a = e->a;
			free(e);
			break;
		}
	pthread_mutex_unlock(&store.lock);
	return a;
}

/* Ties cache files to the exact source file: its size and modification time. */
static int source_stamp(const char *path, uint64_t *out)
{
	struct stat st;

	if (stat(path, &st))
		return errno;
	*out = ((uint64_t)st.st_size << 40) ^ ((uint64_t)st.st_mtim.tv_sec * 1000000000ull) ^
	       (uint64_t)st.st_mtim.tv_nsec;
	return 0;
}

/* The per-codec frame tables the media engine plays from (pointers into the encoded data). */
static int build_frames(struct rp_audio *a)
{
	const uint8_t *g711[3] = {NULL, a->ulaw, a->alaw};

	for (int c = RTC_CODEC_OPUS; c <= RTC_CODEC_PCMA; c++) {
		size_t n = c == RTC_CODEC_OPUS ? a->opus.frames : a->g711_frames;
		struct rtc_media_frame *f = calloc(n ? n : 1, sizeof(*f));

		if (!f)
			return ENOMEM;
		for (size_t i = 0; i < n; i++)
			if (c == RTC_CODEC_OPUS)
				f[i] =
				    (struct rtc_media_frame){a->opus.data + a->opus.off[i], a->opus.len[i]};
			else
				f[i] = (struct rtc_media_frame){g711[c] + i * RP_SAMPLES_NARROW,
								RP_SAMPLES_NARROW};
		a->frames[c] = f;
		a->frame_count[c] = n;
	}
	return 0;
}

/* Fills a's encoded forms from the cache, or decodes and encodes path (and writes the cache). */
static int load_media(struct rp_audio *a, char *msg, size_t msglen)
{
	char base[PATH_MAX + RP_NAME_MAX + 2];
	struct rp_pcm pcm = {0};
	uint64_t stamp = 0;
	size_t g711_len = 0;
	int err;

	if ((err = source_stamp(a->path, &stamp))) {
		snprintf(msg, msglen, "%s: %s", a->path, strerror(err));
		return err == ENOENT ? ENOENT : EIO;
	}
	snprintf(base, sizeof(base), "%s/%s",
		 a->library && store.library_cache[0] ? store.library_cache : store.cache_dir, a->name);
	if ((err = rp_cache_read(base, stamp, &a->opus, &a->ulaw, &a->alaw, &g711_len)) == 0) {
		a->g711_frames = (unsigned)(g711_len / RP_SAMPLES_NARROW);
		if (!a->duration_ms)
			a->duration_ms = a->g711_frames * RP_FRAME_MS;
		return build_frames(a);
	}
	if (err == ENOMEM)
		return err;
	if ((err = rp_pcm_decode(&pcm, a->path, store.cfg.max_seconds, msg, msglen)))
		return err;
	a->duration_ms = pcm.duration_ms;
	if (!a->format) {
		a->format = pcm.format;
		a->content_type = pcm.content_type;
	}
	if ((err = rp_opus_encode(&a->opus, pcm.wide, pcm.n_wide)) ||
	    (err = rp_g711_encode(&a->ulaw, &a->alaw, &g711_len, pcm.narrow, pcm.n_narrow))) {
		snprintf(msg, msglen, "encoding failed: %s", strerror(err));
		goto out;
	}
	a->g711_frames = (unsigned)(g711_len / RP_SAMPLES_NARROW);
	if (rp_cache_write(base, stamp, &a->opus, a->ulaw, a->alaw, g711_len))
		SIPD_WARN("cannot write the cache of '%s' under %s (it is encoded again at each start)",
			  a->name, store.cache_dir);
	SIPD_INFO("encoded '%s': %u ms, %u Opus frames", a->name, a->duration_ms, a->opus.frames);
	err = build_frames(a);
out:
	rp_pcm_free(&pcm);
	return err;
}

static struct rp_audio *audio_new(const char *name, const char *path)
{
	struct rp_audio *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	atomic_init(&a->refs, 1);
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (!(a->path = strdup(path))) {
		free(a);
		return NULL;
	}
	return a;
}

/* Static strings for the formats the decoder names (rows keep their text). */
static void format_static(struct rp_audio *a, struct sipd_str fmt)
{
	static const char *const names[][2] = {{"wav", "audio/wav"},   {"flac", "audio/flac"},
					       {"ogg", "audio/ogg"},   {"mp3", "audio/mpeg"},
					       {"aiff", "audio/aiff"}, {"au", "audio/basic"}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sipd_str_eq(fmt, sipd_str_c(names[i][0]))) {
			a->format = names[i][0];
			a->content_type = names[i][1];
			return;
		}
	a->format = "audio";
	a->content_type = "application/octet-stream";
}

static int load_rows(void *arg)
{
	struct entry **pending = arg, *e;
	bool row;
	int err;

	while ((err = sipd_db_step(store.load, &row)) == 0 && row) {
		struct sipd_str name = sipd_db_column_str(store.load, 0),
				path = sipd_db_column_str(store.load, 1);
		char n[RP_NAME_MAX + 1], p[PATH_MAX];
		struct rp_audio *a;

		snprintf(n, sizeof(n), "%.*s", SIPD_STR_FMT(name));
		snprintf(p, sizeof(p), "%.*s", SIPD_STR_FMT(path));
		if (!(e = malloc(sizeof(*e))) || !(a = audio_new(n, p))) {
			free(e);
			err = ENOMEM;
			break;
		}
		format_static(a, sipd_db_column_str(store.load, 2));
		a->duration_ms = (uint32_t)sipd_db_column_int(store.load, 3);
		a->library = sipd_db_column_int(store.load, 4) != 0;
		a->created = sipd_db_column_int(store.load, 5);
		/* Decoding waits until the transaction is over. */
		e->a = a;
		e->next = *pending;
		*pending = e;
	}
	sipd_db_reset(store.load);
	return err;
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(buf))
		return ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (size_t i = 1; i <= n; i++)
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];

			buf[i] = '\0';
			if (mkdir(buf, 0750) && errno != EEXIST)
				return errno;
			buf[i] = c;
		}
	return 0;
}

int rp_store_init(const struct rp_audio_cfg *cfg)
{
	struct entry *pending = NULL, *next;
	int err;

	store.cfg = *cfg;
	snprintf(store.cache_dir, sizeof(store.cache_dir), "%s/cache", cfg->upload_dir);
	if ((err = mkdir_p(store.cache_dir))) {
		SIPD_ERR("cannot create %s: %s", store.cache_dir, strerror(err));
		return err;
	}
	/* Shipped files are encoded once per installation when their folder is writable (a source tree). */
	snprintf(store.library_cache, sizeof(store.library_cache), "%s/.cache", cfg->library_dir);
	if (mkdir_p(store.library_cache) || access(store.library_cache, W_OK))
		store.library_cache[0] = '\0';
	if ((err = sipd_db_migrate("rtc_player", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err;
	if ((err = sipd_db_prepare(&store.load, "SELECT name, path, format, duration_ms, library, created "
						"FROM audio_files ORDER BY name DESC")) ||
	    (err = sipd_db_prepare(&store.insert,
				   "INSERT INTO audio_files(name, path, format, content_type, "
				   "duration_ms, library, created) VALUES(?, ?, ?, ?, ?, ?, ?)")) ||
	    (err = sipd_db_prepare(&store.remove, "DELETE FROM audio_files WHERE name = ?")) ||
	    (err = sipd_db_prepare(&store.unassign, "DELETE FROM audio_assignments WHERE audio = ?")))
		return err;
	if ((err = sipd_db_transaction(load_rows, &pending)))
		SIPD_ERR("cannot read audio_files: %s", strerror(err));
	for (; pending; pending = next) {
		char msg[RP_ERRMSG_MAX];

		next = pending->next;
		if (err || load_media(pending->a, msg, sizeof(msg))) {
			if (!err)
				SIPD_WARN("audio '%s' is not playable: %s", pending->a->name, msg);
			rp_audio_unref(pending->a);
			free(pending);
			continue;
		}
		pthread_mutex_lock(&store.lock);
		pending->next = store.head;
		store.head = pending;
		pthread_mutex_unlock(&store.lock);
	}
	return err;
}

void rp_store_shutdown(void)
{
	struct rp_audio *a;

	while (store.head && (a = list_remove(store.head->a->name)))
		rp_audio_unref(a);
}

/* Copies src to dst (created exclusively, so a name is never overwritten). The buffer is on the heap:
 * audio.add runs on civetweb threads, whose stacks are small (64 KiB there overflowed one). */
static int copy_file(const char *src, const char *dst)
{
	enum { COPY_BUF = 65536 };
	char *buf = malloc(COPY_BUF);
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, err = 0;
	ssize_t n;

	if (!buf || in < 0) {
		err = buf ? errno : ENOMEM;
		goto out;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) {
		err = errno;
		goto out;
	}
	while ((n = read(in, buf, COPY_BUF)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			err = EIO;
			break;
		}
	if (n < 0)
		err = errno;
	if (close(out) && !err)
		err = EIO;
	if (err)
		unlink(dst);
out:
	if (in >= 0)
		close(in);
	free(buf);
	return err;
}

static int insert_row(void *arg)
{
	struct rp_audio *a = arg;
	int err;

	if ((err = sipd_db_bind_str(store.insert, 1, sipd_str_c(a->name))) ||
	    (err = sipd_db_bind_str(store.insert, 2, sipd_str_c(a->path))) ||
	    (err = sipd_db_bind_str(store.insert, 3, sipd_str_c(a->format))) ||
	    (err = sipd_db_bind_str(store.insert, 4, sipd_str_c(a->content_type))) ||
	    (err = sipd_db_bind_int(store.insert, 5, a->duration_ms)) ||
	    (err = sipd_db_bind_int(store.insert, 6, a->library)) ||
	    (err = sipd_db_bind_int(store.insert, 7, a->created)))
		goto out;
	err = sipd_db_step(store.insert, NULL);
out:
	sipd_db_reset(store.insert);
	return err;
}

int rp_store_add(const char *name, const char *file, bool library, char *msg, size_t msglen)
{
	char path[PATH_MAX];
	struct rp_pcm probe = {0};
	struct rp_audio *a = NULL, *dup;
	bool copied = false;
	int err;

	if (!rp_name_valid(name)) {
		snprintf(msg, msglen,
			 "bad name '%s': 1 to %d letters, digits, '.', '_' or '-', not starting "
			 "with '.'",
			 name ? name : "", RP_NAME_MAX);
		return EINVAL;
	}
	pthread_mutex_lock(&store.write);
	if ((dup = rp_audio_get(name))) {
		rp_audio_unref(dup);
		snprintf(msg, msglen, "audio '%s' exists", name);
		err = EEXIST;
		goto out;
	}
	/* Refuse what does not decode before anything is copied. */
	if ((err = rp_pcm_decode(&probe, file, store.cfg.max_seconds, msg, msglen)))
		goto out;
	if (library)
		snprintf(path, sizeof(path), "%s", file);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", store.cfg.upload_dir, name, probe.format) >=
		 sizeof(path)) {
		err = ENAMETOOLONG;
		snprintf(msg, msglen, "path too long");
		goto out;
	}
	if (!library) {
		unlink(path); /* a leftover of a name deleted while the server was down */
		if ((err = copy_file(file, path))) {
			snprintf(msg, msglen, "cannot store the file as %s: %s", path, strerror(err));
			goto out;
		}
		copied = true;
	}
	err = ENOMEM;
	if (!(a = audio_new(name, path)))
		goto out;
	a->library = library;
	a->created = sipd_db_now();
	a->format = probe.format;
	a->content_type = probe.content_type;
	rp_pcm_free(&probe);
	if ((err = load_media(a, msg, msglen)))
		goto out;
	if ((err = sipd_db_transaction(insert_row, a))) {
		snprintf(msg, msglen, "cannot record audio '%s': %s", name, strerror(err));
		err = EIO;
		goto out;
	}
	if ((err = list_add(a)))
		goto out;
	a = NULL;
	copied = false;
out:
	pthread_mutex_unlock(&store.write);
	rp_pcm_free(&probe);
	if (copied)
		unlink(path);
	rp_audio_unref(a);
	return err;
}

static int delete_rows(void *arg)
{
	const char *name = arg;
	int err;

	if ((err = sipd_db_bind_str(store.remove, 1, sipd_str_c(name))) == 0)
		err = sipd_db_step(store.remove, NULL);
	sipd_db_reset(store.remove);
	if (err)
		return err;
	if ((err = sipd_db_bind_str(store.unassign, 1, sipd_str_c(name))) == 0)
		err = sipd_db_step(store.unassign, NULL);
	sipd_db_reset(store.unassign);
	return err;
}

static void unlink_cache(const char *name)
{
	static const char *const ext[] = {"opus20", "pcmu", "pcma"};
	char path[PATH_MAX + 80];

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", store.cache_dir, name, ext[i]);
		unlink(path);
	}
}

int rp_store_delete(const char *name, char *msg, size_t msglen)
{
	struct rp_audio *a;
	int err;

	pthread_mutex_lock(&store.write);
	if (!(a = rp_audio_get(name))) {
		snprintf(msg, msglen, "no audio named '%s'", name);
		err = ENOENT;
		goto out;
	}
	if ((err = sipd_db_transaction(delete_rows, (void *)name))) {
		snprintf(msg, msglen, "cannot delete audio '%s': %s", name, strerror(err));
		err = EIO;
		goto out;
	}
	rp_audio_unref(list_remove(name));
	rp_assign_forget_audio(name);
	unlink_cache(name);
	/* Shipped files stay where they were installed; uploads go. Calls playing it keep their copy. */
	if (!a->library)
		unlink(a->path);
out:
	pthread_mutex_unlock(&store.write);
	rp_audio_unref(a);
	return err;
}

json_t *rp_store_list(void)
{
	json_t *list = json_array(), *o;

	if (!list)
		return NULL;
	pthread_mutex_lock(&store.lock);
	for (struct entry *e = store.head; e; e = e->next) {
		struct rp_audio *a = e->a;

		o = json_pack("{s:s,s:s,s:s,s:I,s:b,s:I,s:I}", "name", a->name, "format", a->format,
			      "content_type", a->content_type, "duration_ms", (json_int_t)a->duration_ms,
			      "library", a->library, "created", (json_int_t)a->created, "users",
			      (json_int_t)rp_assign_count(a->name));
		if (!o || json_array_append_new(list, o)) {
			json_decref(list);
			list = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&store.lock);
	return list;
}
