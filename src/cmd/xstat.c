/*
 * cbup xstat: print the metadata bup would record for each path, in
 * bup 0.33.7's "detailed" layout (metadata.detailed_bytes()), byte for
 * byte, including its quirks: the field set is chosen with
 * --include-fields/--exclude-fields, negative times print with one
 * second added, and --*-resolution rounds through a Python float.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "meta/meta.h"

int cmd_xstat(int argc, const char **argv);

static const char xstat_optspec[] =
	"bup xstat pathinfo [OPTION ...] <PATH ...>\n"
	"--\n"
	"v,verbose       increase log output (can be used more than once)\n"
	"q,quiet         don't show progress meter\n"
	"exclude-fields= exclude comma-separated fields\n"
	"include-fields= include comma-separated fields (definitive if "
	"first)\n"
	"atime-resolution=  limit s, ms, us, ns, 10ns (value must be a power "
	"of 10) [ns]\n"
	"mtime-resolution=  limit s, ms, us, ns, 10ns (value must be a power "
	"of 10) [ns]\n"
	"ctime-resolution=  limit s, ms, us, ns, 10ns (value must be a power "
	"of 10) [ns]\n";

/* metadata.all_fields */
static const struct {
	const char *name;
	unsigned bit;
} field_names[] = {
	{ "path", META_F_PATH }, { "mode", META_F_MODE },
	{ "link-target", META_F_LINK_TARGET }, { "rdev", META_F_RDEV },
	{ "size", META_F_SIZE }, { "uid", META_F_UID },
	{ "gid", META_F_GID }, { "user", META_F_USER },
	{ "group", META_F_GROUP }, { "atime", META_F_ATIME },
	{ "mtime", META_F_MTIME }, { "ctime", META_F_CTIME },
	{ "linux-attr", META_F_LINUX_ATTR },
	{ "linux-xattr", META_F_LINUX_XATTR },
	{ "posix1e-acl", META_F_POSIX1E_ACL },
};

/* Parse "a,b,c" into a field mask; o.fatal on an unknown name. */
static unsigned parse_fields(struct opts *o, const char *list)
{
	unsigned mask = 0;
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		size_t i;

		for (i = 0; i < ARRAY_SIZE(field_names); i++)
			if (strlen(field_names[i].name) == n &&
			    !strncmp(field_names[i].name, p, n))
				break;
		if (i == ARRAY_SIZE(field_names))
			cli_usage_fatal(o, "%.*s is not a valid field name",
					(int)n, p);
		mask |= field_names[i].bit;
		if (!p[n])
			break;
		p += n + 1;
	}
	return mask;
}

/*
 * bup's parse_timestamp(): "^([-+]?[0-9]+)?(s|ms|us|ns)$" -> ns, then
 * "must be a power of 10" (really: divisible by 10 unless 1).
 */
static long long parse_resolution(struct opts *o, const char *field,
				  const char *v)
{
	static const struct { const char *u; long long mult; } units[] = {
		{ "ms", 1000000 }, { "us", 1000 }, { "ns", 1 },
		{ "s", 1000000000 },
	};
	const char *p = v;
	long long n = 1, res;
	size_t digits;
	int neg = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	digits = strspn(p, "0123456789");
	if (!digits && p != v)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(p + digits, units[i].u))
			continue;
		if (digits) {
			errno = 0;
			n = strtoll(p, NULL, 10);
			if (errno)
				goto bad;
		}
		if (__builtin_mul_overflow(n, units[i].mult, &res))
			goto bad;
		if (neg)
			res = -res;
		if (res != 1 && res % 10)
			cli_usage_fatal(o, "%s resolution \"%s\" must be a "
					"power of 10", field, v);
		return res;
	}
bad:
	if (digits && !p[digits])
		cli_usage_fatal(o, "unable to parse %s resolution \"%s\" "
				"(must include units, i.e. 100ns, 100ms, ...)",
				field, v);
	cli_usage_fatal(o, "unable to parse %s resolution \"%s\"", field, v);
}

static int bitlen(unsigned __int128 x)
{
	int n = 0;

	while (x) {
		n++;
		x >>= 1;
	}
	return n;
}

/* Python's int / int: the correctly rounded (half-even) double. */
static double py_true_div(__int128 n, __int128 d)
{
	int neg = (n < 0) != (d < 0);
	unsigned __int128 a = n < 0 ? -(unsigned __int128)n : (unsigned __int128)n;
	unsigned __int128 b = d < 0 ? -(unsigned __int128)d : (unsigned __int128)d;
	unsigned __int128 num = a, den = b, q, r, low, half;
	int k, s;
	double res;

	if (!a)
		return 0.0;
	/* Scale so the quotient has 54 or 55 bits, then round to 53. */
	k = 54 - (bitlen(a) - bitlen(b));
	if (k >= 0)
		num <<= k;
	else
		den <<= -k;
	q = num / den;
	r = num % den;
	s = bitlen(q) - 53;
	low = q & (((unsigned __int128)1 << s) - 1);
	half = (unsigned __int128)1 << (s - 1);
	q >>= s;
	k -= s;
	if (low > half || (low == half && (r || (q & 1))))
		q++;
	/* q <= 2^53 is exact; scaling by powers of two is exact too. */
	res = (double)q;
	for (; k > 0; k--)
		res *= 0.5;
	for (; k < 0; k++)
		res *= 2.0;
	return neg ? -res : res;
}

/* m.atime = (m.atime / res) * res, in Python floats, then int(). */
static void apply_resolution(struct meta_time *t, long long res)
{
	__int128 ns = (__int128)t->sec * 1000000000 + t->nsec, v, sec;
	double x;

	if (res == 1)
		return;
	x = py_true_div(ns, res) * (double)res;
	v = (__int128)x;   /* int(float): truncation toward zero */
	/* nsecs_to_timespec: floor division */
	sec = v / 1000000000;
	if (v % 1000000000 < 0)
		sec--;
	t->sec = (int64_t)sec;
	t->nsec = (int32_t)(v - sec * 1000000000);
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/*
 * bup walks its (flag, value) list in command-line order: the first
 * --include-fields replaces the field set only if no --exclude-fields
 * came before it.  struct opts keeps values per option, so recover the
 * interleaving from argv (long options may be abbreviated).
 */
static unsigned select_fields(struct opts *o, int argc, const char **argv)
{
	const struct opt_value *ex = opt_get(o, "exclude-fields");
	const struct opt_value *in = opt_get(o, "include-fields");
	size_t ie = 0, ii = 0;
	unsigned active = META_F_ALL;
	int definitive = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t n;
		int kind = 0;

		if (!strcmp(a, "--"))
			break;
		if (strncmp(a, "--", 2) || !a[2])
			continue;
		a += 2;
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		if (!strncmp(a, "exclude-fields", n))
			kind = 'e';
		else if (!strncmp(a, "include-fields", n))
			kind = 'i';
		else if (n && (!strncmp(a, "atime-resolution", n) ||
			       !strncmp(a, "mtime-resolution", n) ||
			       !strncmp(a, "ctime-resolution", n)) && !eq)
			i++;   /* its value is the next argument */
		if (kind && !eq)
			i++;
		if (kind == 'e' && ex && ie < ex->nr_values) {
			active &= ~parse_fields(o, ex->values[ie++]);
			definitive = 0;
		} else if (kind == 'i' && in && ii < in->nr_values) {
			unsigned f = parse_fields(o, in->values[ii++]);
			if (definitive)
				active = f;
			else
				active |= f;
			definitive = 0;
		}
	}
	return active;
}

int cmd_xstat(int argc, const char **argv)
{
	struct opts o;
	struct meta m;
	struct buf out = BUF_INIT;
	long long ares, mres, cres;
	unsigned fields;
	int verbose, first = 1, ret = 0;

	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, xstat_optspec, argc, argv);
	ares = parse_resolution(&o, "atime", opt_str(&o, "atime-resolution"));
	mres = parse_resolution(&o, "mtime", opt_str(&o, "mtime-resolution"));
	cres = parse_resolution(&o, "ctime", opt_str(&o, "ctime-resolution"));
	if (!ares || !mres || !cres) {
		/* bup divides by it and dies with a ZeroDivisionError. */
		opt_release(&o);
		return error("time resolution must not be zero");
	}
	fields = select_fields(&o, argc, argv);
	verbose = opt_count(&o, "verbose") - opt_count(&o, "quiet");

	meta_init(&m);
	for (int i = 0; i < o.argc; i++) {
		const char *path = o.argv[i];

		if (meta_from_path(&m, path, NULL, 0, warn_cb, NULL) < 0) {
			struct buf msg = BUF_INIT;
			int e = errno;

			if (e != ENOENT) {
				ret = error("%s", err_last());
				break;
			}
			/* str(OSError) as _helpers.lstat raises it. */
			buf_addf(&msg, "[Errno %d] %s: '%s'", e, strerror(e),
				 path);
			cli_add_error("%s", msg.data);
			buf_release(&msg);
			continue;
		}
		if (verbose < 0)
			continue;
		buf_reset(&out);
		if (!first)
			buf_addch(&out, '\n');
		buf_addstr(&m.path, path);
		apply_resolution(&m.atime, ares);
		apply_resolution(&m.mtime, mres);
		apply_resolution(&m.ctime, cres);
		meta_detailed(&out, &m, fields);
		buf_addch(&out, '\n');
		fwrite(out.data, 1, out.len, stdout);
		first = 0;
	}
	meta_release(&m);
	buf_release(&out);
	opt_release(&o);
	return cli_finish_counted(ret);
}
