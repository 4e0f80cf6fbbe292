/*
 * cbup list-idx: bup list-idx (lib/bup/cmd/list_idx.py in 0.33.7).
 * Prints "<idxname> <hex id>" for every object of the given .idx/.midx
 * files, or those whose id starts with --find; a full 40-digit --find is
 * a lookup instead of a scan.  Files that cannot be opened are reported
 * bup's add_error way and make the exit status 1.  (bup crashes with a
 * traceback on a missing or garbled file and on a non-hex --find; cbup
 * reports those as errors instead.)
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/midx.h"
#include "util/pypath.h"

static const char list_idx_optspec[] =
	"bup list-idx [--find=<prefix>] <idxfilenames...>\n"
	"--\n"
	"find=   display only objects that start with <prefix>\n";

int cmd_list_idx(int argc, const char **argv);

/*
 * bup's option parser turns a value that prints back as the same integer
 * into an int (options.py _intify): "--find=0" becomes 0, which list-idx
 * then treats as "no --find" and lists everything; any other such value
 * crashes bup (an int where bytes are expected).
 */
static int is_canonical_int(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || (s[0] == '0' && s[1]))
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static void name_error(const char *name, const char *msg)
{
	struct buf r = BUF_INIT;

	pypath_bytes_repr(&r, name, strlen(name));
	cli_add_error("%s: %s", r.data, msg);
	buf_release(&r);
}

/* Print the ids of a sorted table that start with the hex prefix. */
static void scan(const char *name, const unsigned char *shas, size_t stride,
		 uint32_t nr, const char *find, size_t flen)
{
	char hex[OID_HEXSZ + 1];

	for (uint32_t i = 0; i < nr; i++) {
		oid_to_hex((const struct oid *)(shas + (size_t)i * stride),
			   hex);
		if (!strncmp(hex, find, flen))
			printf("%s %s\n", name, hex);
	}
}

int cmd_list_idx(int argc, const char **argv)
{
	struct opts o = { 0 };
	char find[OID_HEXSZ + 1] = "";
	size_t flen = 0;
	struct oid want;

	cli_parse_opts(&o, list_idx_optspec, argc, argv);
	if (opt_str(&o, "find") && is_canonical_int(opt_str(&o, "find")) &&
	    strcmp(opt_str(&o, "find"), "0")) {
		error("--find parameter %s is a number to bup's option parser",
		      opt_str(&o, "find"));
		opt_release(&o);
		return 1;
	}
	if (opt_str(&o, "find") && strcmp(opt_str(&o, "find"), "0")) {
		const char *f = opt_str(&o, "find");
		flen = strlen(f);
		if (flen > OID_HEXSZ)
			cli_usage_fatal(&o, "--find parameter must be <= 40 "
					"chars long");
		for (size_t i = 0; i < flen; i++) {
			char c = f[i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				cli_usage_fatal(&o, "--find parameter is not "
						"a valid hex string");
			find[i] = c;
		}
		find[flen] = '\0';
	}
	if (!o.argc)
		cli_usage_fatal(&o, "you must provide at least one filename");
	if (flen == OID_HEXSZ)
		oid_from_hex(&want, find);

	for (int i = 0; i < o.argc; i++) {
		const char *name = o.argv[i];

		if (ends_with(name, ".idx")) {
			struct idx_file *idx;
			if (idx_open(&idx, name) < 0) {
				name_error(name, err_last());
				continue;
			}
			if (flen == OID_HEXSZ) {
				if (idx_find(idx, &want) >= 0)
					printf("%s %s\n", name, find);
			} else {
				scan(name, idx->shas,
				     idx->version == 1 ? 24 : OID_RAWSZ,
				     idx->nr, find, flen);
			}
			idx_close(idx);
		} else if (ends_with(name, ".midx")) {
			struct midx_file *m;
			if (midx_open(&m, name) < 0) {
				name_error(name, err_last());
				continue;
			}
			if (flen == OID_HEXSZ) {
				if (midx_find(m, &want, NULL) >= 0)
					printf("%s %s\n", name, find);
			} else {
				scan(name, m->shas, OID_RAWSZ, m->nr, find,
				     flen);
			}
			midx_close(m);
		} else {
			name_error(name, "pack index filenames must end with "
				   ".idx or .midx");
		}
	}
	opt_release(&o);
	if (cli_errors()) {
		cli_log("WARNING: %d errors encountered while saving.\n",
			cli_errors());
		return 1;
	}
	return 0;
}
