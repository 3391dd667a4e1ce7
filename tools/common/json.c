// SPDX-License-Identifier: MIT
/*
 * json.c - the tools' streaming JSON writer (see json.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_init(struct json_writer *w, FILE *f, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
}

static void fail(struct json_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void newline_indent(struct json_writer *w, int depth)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < depth; i++)
		fputs("  ", w->f);
}

/* Punctuation due before a value; 0 when the value may be written. */
static int before_value(struct json_writer *w)
{
	if (w->err)
		return -1;
	if (w->after_key) {
		w->after_key = 0;
		return 0;
	}
	if (w->depth == 0) {
		if (w->need_comma) { /* one top-level value per document */
			fail(w, -EINVAL);
			return -1;
		}
		return 0;
	}
	if (w->stack[w->depth - 1] == '{') { /* value without a key */
		fail(w, -EINVAL);
		return -1;
	}
	if (w->need_comma)
		fputc(',', w->f);
	newline_indent(w, w->depth);
	return 0;
}

static void begin(struct json_writer *w, char open)
{
	if (before_value(w))
		return;
	if (w->depth == JSON_MAX_DEPTH) {
		fail(w, -EINVAL);
		return;
	}
	w->stack[w->depth++] = open;
	w->need_comma = 0;
	fputc(open, w->f);
}

static void end(struct json_writer *w, char open, char close)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->stack[w->depth - 1] != open || w->after_key) {
		fail(w, -EINVAL);
		return;
	}
	w->depth--;
	if (w->need_comma) /* not empty */
		newline_indent(w, w->depth);
	fputc(close, w->f);
	w->need_comma = 1;
}

void json_object_begin(struct json_writer *w)
{
	begin(w, '{');
}
void json_object_end(struct json_writer *w)
{
	end(w, '{', '}');
}
void json_array_begin(struct json_writer *w)
{
	begin(w, '[');
}
void json_array_end(struct json_writer *w)
{
	end(w, '[', ']');
}

/* Length of the valid UTF-8 sequence at s (1-4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	/* the second byte excludes overlongs, surrogates, > U+10FFFF */
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

static void put_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", f);
			s++;
			continue;
		case '\\':
			fputs("\\\\", f);
			s++;
			continue;
		case '\b':
			fputs("\\b", f);
			s++;
			continue;
		case '\f':
			fputs("\\f", f);
			s++;
			continue;
		case '\n':
			fputs("\\n", f);
			s++;
			continue;
		case '\r':
			fputs("\\r", f);
			s++;
			continue;
		case '\t':
			fputs("\\t", f);
			s++;
			continue;
		default:
			break;
		}
		if (*s < 0x20) {
			fprintf(f, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_len(s);
		if (!n) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->err)
		return;
	if (!key || w->depth == 0 || w->stack[w->depth - 1] != '{' ||
	    w->after_key) {
		fail(w, -EINVAL);
		return;
	}
	if (w->need_comma)
		fputc(',', w->f);
	newline_indent(w, w->depth);
	put_string(w->f, key);
	fputs(w->pretty ? ": " : ":", w->f);
	w->after_key = 1;
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	if (before_value(w))
		return;
	put_string(w->f, s);
	w->need_comma = 1;
}

void json_int(struct json_writer *w, int64_t v)
{
	if (before_value(w))
		return;
	fprintf(w->f, "%" PRId64, v);
	w->need_comma = 1;
}

void json_uint(struct json_writer *w, uint64_t v)
{
	if (before_value(w))
		return;
	fprintf(w->f, "%" PRIu64, v);
	w->need_comma = 1;
}

void json_double(struct json_writer *w, double v)
{
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	if (before_value(w))
		return;
	/* the shorter form when it reads back exactly, else 17 digits,
	 * which round-trip any double */
	char buf[32];

	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	fputs(buf, w->f);
	w->need_comma = 1;
}

void json_bool(struct json_writer *w, int v)
{
	if (before_value(w))
		return;
	fputs(v ? "true" : "false", w->f);
	w->need_comma = 1;
}

void json_null(struct json_writer *w)
{
	if (before_value(w))
		return;
	fputs("null", w->f);
	w->need_comma = 1;
}

int json_finish(struct json_writer *w)
{
	if (!w->err && (w->depth || w->after_key || !w->need_comma))
		fail(w, -EINVAL);
	if (!w->err)
		fputc('\n', w->f);
	errno = 0;
	if (fflush(w->f))
		fail(w, errno ? -errno : -EIO);
	else if (ferror(w->f))
		fail(w, -EIO);
	return w->err;
}
