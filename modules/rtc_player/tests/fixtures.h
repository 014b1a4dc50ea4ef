/* Audio fixtures made at test time with sox (and libsndfile for MP3, which sox cannot write here). */
#ifndef RP_TEST_FIXTURES_H
#define RP_TEST_FIXTURES_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sndfile.h>

static char fx_dir[256];

static inline void fx_make_dir(void)
{
	snprintf(fx_dir, sizeof(fx_dir), "/tmp/rp_test_XXXXXX");
	cr_assert_not_null(mkdtemp(fx_dir));
}

static inline void fx_remove_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
	cr_assert_eq(system(cmd), 0);
}

/* fx_dir/name made by `sox -n <opts> fx_dir/name synth <secs> sine 440 vol 0.5`. */
static inline const char *fx_sox(const char *name, const char *opts, double secs)
{
	static char path[300];
	char cmd[600];

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	snprintf(cmd, sizeof(cmd), "sox -n %s '%s' synth %g sine 440 vol 0.5 2>/dev/null", opts, path, secs);
	cr_assert_eq(system(cmd), 0, "sox failed: %s", cmd);
	return path;
}

/* An MP3 written through libsndfile (Debian's sox has no MP3 writer). */
static inline const char *fx_mp3(const char *name, double secs)
{
	static char path[300];
	SF_INFO info = {
	    .samplerate = 44100, .channels = 1, .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
	size_t n = (size_t)(secs * 44100);
	float *buf = malloc(n * sizeof(float));
	SNDFILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	cr_assert_not_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = 0.5f * sinf(2.0f * (float)M_PI * 440.0f * (float)i / 44100.0f);
	cr_assert_not_null(f = sf_open(path, SFM_WRITE, &info), "libsndfile cannot write MP3: %s",
			   sf_strerror(NULL));
	cr_assert_eq(sf_writef_float(f, buf, (sf_count_t)n), (sf_count_t)n);
	sf_close(f);
	free(buf);
	return path;
}

/* The first `bytes` bytes of src as fx_dir/name. */
static inline const char *fx_cut(const char *src, const char *name, long bytes)
{
	static char path[300];
	char cmd[700];

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	snprintf(cmd, sizeof(cmd), "head -c %ld '%s' > '%s'", bytes, src, path);
	cr_assert_eq(system(cmd), 0);
	return path;
}

static inline const char *fx_text(const char *name, const char *text)
{
	static char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	return path;
}

#endif
