/* The audio library and the assignment cache: add/delete with validation, persistence, lookups from memory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sipd/db.h>

#include "audio.h"
#include "fixtures.h"
#include "internal.h"

static char upload[300], db[300];

static void start(void)
{
	struct rp_audio_cfg cfg = {.library_dir = fx_dir, .upload_dir = upload, .max_seconds = 60};
	char err[256] = "";

	cr_assert_eq(db_open(db, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rp_store_init(&cfg), 0);
	cr_assert_eq(rp_assign_init(), 0);
}

static void stop(void)
{
	rp_assign_shutdown();
	rp_store_shutdown();
	db_close();
}

static void setup(void)
{
	fx_make_dir();
	snprintf(upload, sizeof(upload), "%s/uploads", fx_dir);
	snprintf(db, sizeof(db), "%s/sipd.db", fx_dir);
	start();
}

static void teardown(void)
{
	stop();
	fx_remove_dir();
}

TestSuite(library, .init = setup, .fini = teardown);

static void add_ok(const char *name, const char *file)
{
	char msg[RP_ERRMSG_MAX] = "";

	cr_assert_eq(rp_store_add(name, file, false, msg, sizeof(msg)), 0, "%s", msg);
}

Test(library, add_copies_encodes_and_caches)
{
	char path[400];
	struct rp_audio *a;
	struct stat st;

	add_ok("hello", fx_sox("src.wav", "-r 44100 -c 2 -b 16", 1));
	cr_assert_not_null(a = rp_audio_get("hello"));
	snprintf(path, sizeof(path), "%s/hello.wav", upload);
	cr_expect_str_eq(a->path, path);
	cr_expect_eq(stat(path, &st), 0, "the upload is copied into the upload dir");
	cr_expect_eq(a->frame_count[RTC_CODEC_OPUS], 50);
	cr_expect_eq(a->frame_count[RTC_CODEC_PCMU], 50);
	cr_expect_eq(a->frame_count[RTC_CODEC_PCMA], 50);
	cr_expect_eq(a->frames[RTC_CODEC_PCMU][1].len, 160);
	cr_expect_eq(a->frames[RTC_CODEC_PCMU][1].data, a->ulaw + 160);
	snprintf(path, sizeof(path), "%s/cache/hello.opus20", upload);
	cr_expect_eq(stat(path, &st), 0, "the Opus frames are cached on disk");
	rp_audio_unref(a);
}

Test(library, refuses_bad_names_files_and_duplicates)
{
	char msg[RP_ERRMSG_MAX];
	const char *wav = fx_sox("src.wav", "-r 8000", 1);

	cr_expect_eq(rp_store_add("../etc", wav, false, msg, sizeof(msg)), EINVAL);
	cr_expect_eq(rp_store_add(".hidden", wav, false, msg, sizeof(msg)), EINVAL);
	cr_expect_eq(rp_store_add("", wav, false, msg, sizeof(msg)), EINVAL);
	cr_expect_eq(rp_store_add("notes", fx_text("notes.txt", "hello"), false, msg, sizeof(msg)), EINVAL);
	cr_expect(strstr(msg, "not a readable audio file") != NULL, "%s", msg);
	cr_expect_null(rp_audio_get("notes"), "nothing is kept of a refused file");
	cr_expect_neq(access("notes.txt", F_OK), 0);
	add_ok("a", wav);
	cr_expect_eq(rp_store_add("a", wav, false, msg, sizeof(msg)), EEXIST);
}

Test(library, assignments_are_cached_and_persist)
{
	struct rp_audio *a = NULL;
	enum rp_mode mode;
	json_t *list;

	add_ok("tune", fx_sox("src.flac", "-r 48000", 1));
	cr_expect_eq(rp_assign_set("bob", "nope", RP_MODE_LOOP), ENOENT,
		     "only existing audio can be assigned");
	cr_assert_eq(rp_assign_set("alice", "tune", RP_MODE_ONCE), 0);
	cr_assert(rp_assign_lookup("alice", 5, &a, &mode));
	cr_expect_str_eq(a->name, "tune");
	cr_expect_eq(mode, RP_MODE_ONCE);
	rp_audio_unref(a);
	cr_expect_not(rp_assign_lookup("alic", 4, NULL, NULL), "lookups compare the whole name");
	cr_expect_not(rp_assign_lookup("bob", 3, NULL, NULL));

	/* After a restart the cache is rebuilt from the database. */
	stop();
	start();
	cr_assert(rp_assign_lookup("alice", 5, NULL, &mode));
	cr_expect_eq(mode, RP_MODE_ONCE);
	cr_assert_not_null(list = rp_assign_list());
	cr_expect_eq(json_array_size(list), 1);
	json_decref(list);

	cr_assert_eq(rp_assign_set("alice", "tune", RP_MODE_LOOP), 0, "assigning again replaces");
	cr_assert(rp_assign_lookup("alice", 5, NULL, &mode));
	cr_expect_eq(mode, RP_MODE_LOOP);
	cr_expect_eq(rp_assign_remove("alice"), 0);
	cr_expect_not(rp_assign_lookup("alice", 5, NULL, NULL));
	cr_expect_eq(rp_assign_remove("alice"), ENOENT);
}

Test(library, delete_drops_assignments_but_not_playing_audio)
{
	char msg[RP_ERRMSG_MAX], path[400];
	struct rp_audio *playing;

	add_ok("tune", fx_sox("src.ogg", "-r 44100 -c 2", 1));
	cr_assert_eq(rp_assign_set("carol", "tune", RP_MODE_LOOP), 0);
	cr_assert_not_null(playing = rp_audio_get("tune"));
	cr_expect_eq(rp_store_delete("tune", msg, sizeof(msg)), 0);
	cr_expect_not(rp_assign_lookup("carol", 5, NULL, NULL));
	cr_expect_null(rp_audio_get("tune"));
	snprintf(path, sizeof(path), "%s/tune.ogg", upload);
	cr_expect_neq(access(path, F_OK), 0, "the upload is removed");
	cr_expect_gt(playing->frame_count[RTC_CODEC_OPUS], 0, "a call holding it keeps its frames");
	rp_audio_unref(playing);
	cr_expect_eq(rp_store_delete("tune", msg, sizeof(msg)), ENOENT);

	stop();
	start();
	cr_expect_null(rp_audio_get("tune"), "deleted for good");
}

Test(library, demo_is_set_up_once)
{
	fx_sox("greeting.wav", "-r 48000", 1);
	cr_assert_eq(rp_demo_setup("welcome", "greeting.wav", fx_dir), 0);
	cr_expect(rp_assign_lookup("welcome", 7, NULL, NULL));
	cr_expect_eq(rp_assign_remove("welcome"), 0);
	cr_assert_eq(rp_demo_setup("welcome", "greeting.wav", fx_dir), 0);
	cr_expect_not(rp_assign_lookup("welcome", 7, NULL, NULL), "an admin's unassign is not overruled");
}
