/*
 * Metadata display (metafmt.h): bup 0.33.7's metadata.summary_bytes(),
 * xstat.classification_str(), helpers.format_filesize() and
 * Metadata.__repr__(), reproduced byte for byte (FORMAT.md 5.2 for the
 * record fields they show).
 */
#include "meta/metafmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "util/pypath.h"

const char *metafmt_classification(int64_t mode, int include_exec)
{
	mode_t m = (mode_t)mode;

	if (S_ISREG(m))
		return include_exec && (m & (S_IXUSR | S_IXGRP | S_IXOTH)) ?
			       "*" : "";
	if (S_ISDIR(m))
		return "/";
	if (S_ISLNK(m))
		return "@";
	if (S_ISFIFO(m))
		return "|";
	if (S_ISSOCK(m))
		return "=";
	return "";
}

/* Python's float floor division (Objects/floatobject.c float_floor_div). */
static double py_floordiv(double vx, double wx)
{
	double mod = fmod(vx, wx), div = (vx - mod) / wx, floordiv;

	if (mod && ((wx < 0) != (mod < 0)))
		div -= 1.0;
	if (div) {
		floordiv = floor(div);
		if (div - floordiv > 0.5)
			floordiv += 1.0;
	} else {
		floordiv = copysign(0.0, vx / wx);
	}
	return floordiv;
}

void metafmt_filesize(struct buf *out, uint64_t size)
{
	const double unit = 1024.0;
	double s = (double)size;
	int exponent;

	if (s < unit) {
		buf_addf(out, "%d", (int)s);
		return;
	}
	/* int(math.log(size) // math.log(unit)): at most 6 for 64 bits */
	exponent = (int)py_floordiv(log(s), log(unit));
	if (exponent < 1)
		exponent = 1;
	if (exponent > 6)
		exponent = 6;
	buf_addf(out, "%.1f%c", s / pow(unit, exponent),
		 "KMGTPE"[exponent - 1]);
}

/* "%-*s" with a byte width, as Python's bytes % formatting. */
static void pad_right(struct buf *out, const char *s, size_t len, size_t w)
{
	buf_add(out, s, len);
	for (; len < w; len++)
		buf_addch(out, ' ');
}

static void pad_left(struct buf *out, const char *s, size_t len, size_t w)
{
	for (size_t n = len; n < w; n++)
		buf_addch(out, ' ');
	buf_add(out, s, len);
}

void metafmt_summary(struct buf *out, const struct meta *m, const char *name,
		     enum metafmt_class classification, unsigned flags)
{
	struct buf owner = BUF_INIT, size = BUF_INIT;
	char mode[16], mtime[64];
	const char *cls = "?";
	int numeric = !!(flags & METAFMT_NUMERIC_IDS);

	if (m) {
		time_t t = (time_t)m->mtime.sec;   /* fstime_floor_secs */
		struct tm tm;
		mode_t md = (mode_t)m->mode;

		meta_mode_str(mode, m->mode);
		if (localtime_r(&t, &tm))
			strftime(mtime, sizeof(mtime), "%Y-%m-%d %H:%M", &tm);
		else
			snprintf(mtime, sizeof(mtime), "?");
		if (m->user.len && !numeric)
			buf_add(&owner, m->user.data, m->user.len);
		else if (m->uid >= 0)
			buf_addf(&owner, "%lld", (long long)m->uid);
		else
			buf_addch(&owner, '?');
		buf_addch(&owner, '/');
		if (m->group.len && !numeric)
			buf_add(&owner, m->group.data, m->group.len);
		else if (m->gid >= 0)
			buf_addf(&owner, "%lld", (long long)m->gid);
		else
			buf_addch(&owner, '?');
		if (S_ISCHR(md) || S_ISBLK(md)) {
			dev_t d = (dev_t)m->rdev;
			if (m->rdev)
				buf_addf(&size, "%u,%u", major(d), minor(d));
			else
				buf_addch(&size, '?');
		} else if (m->size >= 0) {
			if (flags & METAFMT_HUMAN_READABLE)
				metafmt_filesize(&size, (uint64_t)m->size);
			else
				buf_addf(&size, "%lld", (long long)m->size);
		} else {
			buf_addch(&size, '-');
		}
		if (classification)
			cls = metafmt_classification(
				m->mode, classification == METAFMT_CLASS_ALL);
	} else {
		snprintf(mode, sizeof(mode), "?\?\?\?\?\?\?\?\?\?");
		snprintf(mtime, sizeof(mtime), "?\?\?\?-?\?-?\? ?\?:?\?");
		buf_addstr(&owner, "?/?");
		buf_addch(&size, '?');
	}

	pad_right(out, mode, strlen(mode), 10);
	buf_addch(out, ' ');
	pad_right(out, owner.data, owner.len, 11);
	buf_addch(out, ' ');
	pad_left(out, size.data, size.len, 11);
	buf_addch(out, ' ');
	pad_left(out, mtime, strlen(mtime), 16);
	buf_addch(out, ' ');
	buf_addstr(out, name ? name : "");
	if (classification)
		buf_addstr(out, cls);
	if (m && m->symlink_target.len) {
		buf_addstr(out, " -> ");
		buf_add(out, m->symlink_target.data, m->symlink_target.len);
	}
	buf_release(&owner);
	buf_release(&size);
}

static void add_time_repr(struct buf *out, const char *name,
			  const struct meta_time *t)
{
	time_t secs = (time_t)t->sec;
	struct tm tm;
	char when[64] = "";

	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M +0000", &tm);
	buf_addf(out, " %s:'%s' (%lld)", name, when,
		 (long long)(t->sec * 1000000000LL + t->nsec));
}

void metafmt_meta_repr(struct buf *out, const struct meta *m)
{
	char mode[16];

	buf_addf(out, "<<class 'bup.metadata.Metadata'> instance at %p",
		 (const void *)m);
	if (m->path.len) {
		buf_addstr(out, " path:");
		pypath_bytes_repr(out, m->path.data, m->path.len);
	}
	if (m->mode) {
		/* the common record sets all of these (FORMAT.md 5.3) */
		meta_mode_str(mode, m->mode);
		buf_addf(out, " mode: %llo (%s)", (unsigned long long)m->mode,
			 mode);
		buf_addf(out, " uid:%lld gid:%lld", (long long)m->uid,
			 (long long)m->gid);
		buf_addstr(out, " user:");
		pypath_bytes_repr(out, m->user.data, m->user.len);
		buf_addstr(out, " group:");
		pypath_bytes_repr(out, m->group.data, m->group.len);
		/* bup prints the group again here (its __repr__ typo) */
		buf_addstr(out, " rdev:");
		pypath_bytes_repr(out, m->group.data, m->group.len);
	}
	if (m->size >= 0)
		buf_addf(out, " size:%lld", (long long)m->size);
	if (m->mode) {
		add_time_repr(out, "atime", &m->atime);
		add_time_repr(out, "mtime", &m->mtime);
		add_time_repr(out, "ctime", &m->ctime);
	}
	buf_addch(out, '>');
}
