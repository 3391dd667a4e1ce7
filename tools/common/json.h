/* SPDX-License-Identifier: MIT */
/*
 * json.h - a tiny streaming JSON writer for the tools' --json output.
 *
 * Write values in document order; the writer places commas, colons and
 * (when pretty) newlines and indentation.  Inside an object call
 * json_key() before each value.  Strings are escaped per RFC 8259 and
 * invalid UTF-8 is replaced by U+FFFD, so the output always parses.
 *
 *	struct json_writer w;
 *	json_init(&w, stdout, 1);
 *	json_object_begin(&w);
 *	json_key(&w, "ok"); json_bool(&w, 1);
 *	json_object_end(&w);
 *	return json_finish(&w);	// 0, or -EIO / -EINVAL
 */
#ifndef TOOLS_JSON_H
#define TOOLS_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
	FILE *f;
	int pretty;
	int depth;
	int err;		    /* first error, negative errno */
	int need_comma;		    /* a value precedes at this depth */
	int after_key;		    /* next value follows a key */
	char stack[JSON_MAX_DEPTH]; /* '{' or '[' per open container */
};

/* Start a document on f; pretty != 0 indents by two spaces. */
void json_init(struct json_writer *w, FILE *f, int pretty);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);

/* The key of the next value; only inside an object. */
void json_key(struct json_writer *w, const char *key);

/* Values.  A NULL string writes null; NaN and infinities write null. */
void json_string(struct json_writer *w, const char *s);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, int v);
void json_null(struct json_writer *w);

/* End the document with a newline and flush.  Returns 0, -EINVAL when
 * containers are unbalanced or calls were out of order, or the -errno of
 * the failed write (-EIO when it is no longer known).  Flushing here means
 * a later fflush() of the same stream cannot tell the errno again: report
 * this one. */
int json_finish(struct json_writer *w);

#endif /* TOOLS_JSON_H */
