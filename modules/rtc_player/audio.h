/* Internal interfaces of rtc_player's audio library: decoding, encoding, the store and assignments. */
#ifndef RP_AUDIO_H
#define RP_AUDIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "media.h"

/* 20 ms frames: 960 samples at 48 kHz (Opus), 160 at 8 kHz (G.711). */
#define RP_FRAME_MS       20
#define RP_RATE_WIDE      48000
#define RP_RATE_NARROW    8000
#define RP_SAMPLES_WIDE   960
#define RP_SAMPLES_NARROW 160
#define RP_NAME_MAX       64
#define RP_ERRMSG_MAX     256

/* ---- audio_decode.c: any supported file to mono float PCM at 48 and 8 kHz ---- */

struct rp_pcm {
	float *wide; /* 48 kHz mono, n_wide samples */
	size_t n_wide;
	float *narrow; /* 8 kHz mono, n_narrow samples */
	size_t n_narrow;
	unsigned src_rate, src_channels;
	const char *format;       /* "wav", "flac", "ogg", "mp3", ... (static) */
	const char *content_type; /* "audio/wav", ... (static) */
	uint32_t duration_ms;
};

/*
 * Decodes path (libsndfile) and resamples it to both rates (libsamplerate).
 * Files longer than max_seconds are refused. Returns 0, EINVAL (unreadable,
 * empty, truncated, too long: msg says why in words), ENOMEM.
 */
int rp_pcm_decode(struct rp_pcm *out, const char *path, unsigned max_seconds, char *msg, size_t msglen);
void rp_pcm_free(struct rp_pcm *p);

/* ---- audio_g711.c: ITU-T G.711 encoders ---- */

uint8_t rp_g711_ulaw(int16_t sample);
uint8_t rp_g711_alaw(int16_t sample);
/* Float [-1, 1] to 16-bit linear, clipped. */
int16_t rp_pcm16(float v);

/* ---- audio_encode.c: the encoded forms a call sends, and their cache files ---- */

/* Opus frames of one file: frame i is data[off[i] .. off[i] + len[i]). */
struct rp_opus {
	uint8_t *data;
	uint32_t *off;
	uint16_t *len;
	unsigned frames;
};

/*
 * Encodes 48 kHz mono samples into 20 ms Opus frames (VoIP, 32 kbit/s); the
 * last frame is padded with silence. 0, EIO (libopus failed), ENOMEM.
 */
int rp_opus_encode(struct rp_opus *out, const float *wide, size_t n);
void rp_opus_free(struct rp_opus *o);
/* G.711 bytes of 8 kHz samples, padded to whole 20 ms frames: *n = frames * 160. 0 or ENOMEM. */
int rp_g711_encode(uint8_t **ulaw, uint8_t **alaw, size_t *n, const float *narrow, size_t count);

/* Cache files: <base>.opus20 (frames), <base>.pcmu, <base>.pcma. stamp ties them to the source. */
int rp_cache_write(const char *base, uint64_t stamp, const struct rp_opus *o, const uint8_t *ulaw,
		   const uint8_t *alaw, size_t g711_len);
/* 0, ENOENT (absent or stale: re-encode), EBADMSG (corrupt), ENOMEM. */
int rp_cache_read(const char *base, uint64_t stamp, struct rp_opus *o, uint8_t **ulaw, uint8_t **alaw,
		  size_t *g711_len);

/* ---- audio_store.c: the library (files on disk, rows in audio_files, encoded forms in memory) ---- */

/* One playable file; refcounted so that a delete never pulls audio from under a call. */
struct rp_audio {
	atomic_uint refs;
	char name[RP_NAME_MAX + 1];
	char *path;
	const char *content_type;
	const char *format;
	uint32_t duration_ms;
	bool library; /* shipped with sipd (audio_dir), not uploaded */
	int64_t created;
	struct rp_opus opus;
	uint8_t *ulaw, *alaw; /* g711_frames * 160 bytes each */
	unsigned g711_frames;
	/* What a call hands the media engine, per codec (indexed by enum rtc_media_codec). */
	struct rtc_media_frame *frames[3];
	size_t frame_count[3];
};

struct rp_audio_cfg {
	const char *library_dir; /* shipped files (read-only) */
	const char *upload_dir;  /* uploads and every cache file (writable) */
	unsigned max_seconds;
};

/* Creates the tables, the upload dir, and loads every file (cache or encode). Main thread, init. */
int rp_store_init(const struct rp_audio_cfg *cfg);
void rp_store_shutdown(void);
/* A referenced file by name, or NULL. Any thread. */
struct rp_audio *rp_audio_get(const char *name);
void rp_audio_ref(struct rp_audio *a);
void rp_audio_unref(struct rp_audio *a);
/*
 * Decodes and validates file, copies it into the upload dir as NAME.<ext>,
 * encodes it and records it. Control thread. 0, EINVAL (bad name or file,
 * msg says why), EEXIST, EIO, ENOMEM.
 */
int rp_store_add(const char *name, const char *file, bool library, char *msg, size_t msglen);
/* Removes a file (its assignments too). 0, ENOENT, EBUSY (library file), EIO. */
int rp_store_delete(const char *name, char *msg, size_t msglen);
/* [{name, format, content_type, duration_ms, library, created, users}] (new reference). */
json_t *rp_store_list(void);
/* Letters, digits, '.', '_', '-', 1..64 characters, not starting with '.'. */
bool rp_name_valid(const char *name);

/* ---- audio_assign.c: who hears what (audio_assignments), cached for the workers ---- */

enum rp_mode { RP_MODE_LOOP = 0, RP_MODE_ONCE };

int rp_assign_init(void);
void rp_assign_shutdown(void);
/* Assigns (or replaces) user's audio. 0, ENOENT (no such audio), EIO. Control thread. */
int rp_assign_set(const char *user, const char *audio, enum rp_mode mode);
/* 0, ENOENT (user had nothing), EIO. */
int rp_assign_remove(const char *user);
/* Drops the assignments of a deleted audio from the cache (rows go with it). */
void rp_assign_forget_audio(const char *audio);
/* Users assigned to audio (for the list). */
unsigned rp_assign_count(const char *audio);
/* [{user, audio, mode, created}] (new reference). */
json_t *rp_assign_list(void);
/*
 * Worker-safe lookup from memory: true when user has audio; *audio (when
 * not NULL) gets a reference and *mode the mode.
 */
bool rp_assign_lookup(const char *user, size_t len, struct rp_audio **audio, enum rp_mode *mode);
const char *rp_mode_name(enum rp_mode m);
/* "loop" or "once" → mode; -1 otherwise. */
int rp_mode_parse(const char *s);

/* ---- demo.c ---- */

/* Adds the shipped demo audio and assigns it to user, once per database. 0 or errno (DB errors). */
int rp_demo_setup(const char *user, const char *file, const char *library_dir);

#endif
