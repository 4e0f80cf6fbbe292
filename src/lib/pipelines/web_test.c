/*
 * web: the pure parts.  The page is bup 0.33.7's web page for a branch
 * as tornado 6.2 rendered it (curl of bup web); quoting and escaping as
 * Python's urllib.parse.quote()/unquote_to_bytes() and tornado's
 * xhtml_escape(); tar headers as GNU tar reads them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipelines/web.h"
#include "unit.h"

static int unq(const char *in, int plus, const char *want, size_t wlen)
{
	struct buf b = BUF_INIT;
	int ret = web_unquote(&b, in, strlen(in), plus);
	int ok = b.len == wlen && !memcmp(b.data, want, wlen);

	buf_release(&b);
	return ok ? ret : -2;
}

UNIT_TEST(web, unquote_as_python)
{
	CHECK(unq("/%C2%A1excitement%21/latest", 0,
		  "/\xc2\xa1" "excitement!/latest", 21) == 0);
	CHECK(unq("%zz%4%", 0, "%zz%4%", 6) == 0);
	CHECK(unq("a+b%2B", 0, "a+b+", 4) == 0);
	CHECK(unq("a+b%2B", 1, "a b+", 4) == 0);
	CHECK(unq("%2e%2E/x", 0, "../x", 4) == 0);
	CHECK(unq("a%00b", 0, "a\0b", 3) == -1);
	CHECK(unq("%ff%80", 0, "\xff\x80", 2) == 0);
}

UNIT_TEST(web, quote_and_escape)
{
	struct buf b = BUF_INIT;

	web_quote(&b, "a&<b>\"q'.html", 13);
	CHECK(!strcmp(b.data, "a%26%3Cb%3E%22q%27.html"));
	buf_reset(&b);
	web_quote(&b, "\xc2\xa1x y~_.-/\xff", 11);
	CHECK(!strcmp(b.data, "%C2%A1x%20y~_.-/%FF"));
	buf_reset(&b);
	web_html_escape(&b, "a&<b>\"q'.html", 13);
	CHECK(!strcmp(b.data, "a&amp;&lt;b&gt;&quot;q&#39;.html"));
	buf_release(&b);
}

UNIT_TEST(web, query_true)
{
	CHECK(web_query_true("1"));
	CHECK(web_query_true(" -2 "));
	CHECK(!web_query_true("0"));
	CHECK(!web_query_true("00"));
	CHECK(!web_query_true(""));
	CHECK(!web_query_true("yes"));
	CHECK(web_query_true("1_0"));
	CHECK(!web_query_true("1__0"));
}

/* bup web's /test/ (tornado 6.2), a branch with one save */
static const char branch_page[] =
	"\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" "
	"\"http://www.w3.org/TR/html4/loose.dtd\">\n<html>\n<head>\n<meta "
	"http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\n"
	"<title>Directory listing for /test/</title>\n<link rel=\"stylesheet\""
	" href=\"/static/styles.css\" />\n</head>\n<body>\n<div id=\"wrapper\""
	">\n<div id=\"breadcrumb\">\n\n<a href=\"/\">[root]</a> /\n\n<a href="
	"\"/test/\">test</a> /\n\n</div>\n\n<table>\n<tr>\n<th class=\""
	"dir-name\">Name</th>\n<th class=\"dir-size\">Size</th>\n</tr>\n\n<tr>"
	"\n<td class=\"dir-name\">\n<a href=\"../\">..</a>\n</td>\n<td class="
	"\"dir-size\">&nbsp;</td>\n</tr>\n\n<tr>\n<td class=\"dir-name\">\n<a "
	"href=\"2026-12-06-081457/\">2026-12-06-081457/</a>\n</td>\n<td class="
	"\"dir-size\">&nbsp;</td>\n</tr>\n\n<tr>\n<td class=\"dir-name\">\n<a "
	"href=\"latest\">latest@</a>\n</td>\n<td class=\"dir-size\">&nbsp;</td>"
	"\n</tr>\n\n</table>\n</div>\n</body>\n</html>\n";

UNIT_TEST(web, html_as_bup)
{
	struct web_row rows[] = {
		{ .name = ".", .kind = WEB_DOTDOT, .mode = 040755 },
		{ .name = "2026-12-06-081457", .kind = WEB_DIR,
		  .mode = 040755 },
		{ .name = "latest", .kind = WEB_SYMLINK, .mode = 0120755 },
	};
	struct web_row files[] = {
		{ .name = ".", .kind = WEB_DOTDOT, .mode = 040755 },
		{ .name = ".hid", .kind = WEB_FILE, .mode = 0100644,
		  .size = 5 },
		{ .name = "big", .kind = WEB_FILE, .mode = 0100644,
		  .size = 300000 },
	};
	struct buf b = BUF_INIT;

	web_html_listing(&b, "/test/", rows, 3, 0, 0);
	CHECK(b.len == strlen(branch_page));
	CHECK(!strcmp(b.data, branch_page));

	/* hidden files: the message, and ?hidden=1 on every link */
	buf_reset(&b);
	web_html_listing(&b, "/a b/", files, 3, 0, 1);
	CHECK(strstr(b.data, "<a href=\"?hidden=1\">Show hidden files</a>"));
	CHECK(!strstr(b.data, ".hid"));
	CHECK(strstr(b.data, "<td class=\"dir-size\">293.0K</td>"));
	CHECK(strstr(b.data, "<title>Directory listing for /a b/</title>"));
	buf_reset(&b);
	web_html_listing(&b, "/a/", files, 3, 1, 0);
	CHECK(strstr(b.data, "<a href=\".\">Hide hidden files</a>"));
	CHECK(strstr(b.data, "<a href=\"/a/?hidden=1\">a</a> /"));
	CHECK(strstr(b.data, "<a href=\"../?hidden=1\">..</a>"));
	CHECK(strstr(b.data, "<a href=\".hid?hidden=1\">.hid</a>"));
	CHECK(strstr(b.data, "<td class=\"dir-size\">300000</td>"));
	buf_release(&b);
}

UNIT_TEST(web, json)
{
	struct web_row rows[] = {
		{ .name = ".", .kind = WEB_DOTDOT, .mode = 040755 },
		{ .name = "d\"\\\x01", .kind = WEB_DIR, .mode = 040755 },
		{ .name = "\xc2\xa1\xff", .kind = WEB_FILE, .mode = 0100600,
		  .size = 7, .has_mtime = 1, .mtime = -5,
		  .oid = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" },
	};
	struct buf b = BUF_INIT;

	web_json_listing(&b, "/x/", rows, 3);
	CHECK(!strcmp(b.data, "{\"path\": \"/x/\", \"entries\": [\n"
		"  {\"name\": \"d\\\"\\\\\\u0001\", \"type\": \"dir\", "
		"\"size\": null, \"mode\": 16877, \"mtime\": null, "
		"\"oid\": null},\n"
		"  {\"name\": \"\xc2\xa1\\udcff\", \"type\": \"file\", "
		"\"size\": 7, \"mode\": 33152, \"mtime\": -5, "
		"\"oid\": \"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\"}\n]}\n"));
	buf_reset(&b);
	web_json_listing(&b, "/", rows, 1);
	CHECK(!strcmp(b.data, "{\"path\": \"/\", \"entries\": []}\n"));
	buf_release(&b);
}

static int tar_sum_ok(const unsigned char *h)
{
	unsigned sum = 0;

	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return strtoul((const char *)h + 148, NULL, 8) == sum;
}

UNIT_TEST(web, tar_headers)
{
	struct web_tar_entry e = {
		.name = "top/a.txt", .type = '0', .mode = 0640, .size = 3,
		.mtime = 1580608922, .uid = 1000, .gid = 100,
		.uname = "me", .gname = "users",
	};
	char longname[400], comp[160];
	const unsigned char *h;
	struct buf b = BUF_INIT;

	web_tar_header(&b, &e);
	h = (const unsigned char *)b.data;
	CHECK(b.len == 512);
	CHECK(!strcmp(b.data, "top/a.txt"));
	CHECK(!memcmp(h + 100, "0000640", 8));
	CHECK(!memcmp(h + 124, "00000000003", 12));
	CHECK(!memcmp(h + 136, "13615426632", 12));
	CHECK(h[156] == '0');
	CHECK(!memcmp(h + 257, "ustar\00000", 8));
	CHECK(!strcmp((const char *)h + 265, "me"));
	CHECK(tar_sum_ok(h));

	/* a long path that splits: prefix and name, no pax header */
	memset(comp, 'c', 90);
	comp[90] = '\0';
	snprintf(longname, sizeof(longname), "%s/%s/f", comp, comp);
	e.name = longname;
	buf_reset(&b);
	web_tar_header(&b, &e);
	h = (const unsigned char *)b.data;
	CHECK(b.len == 512);
	CHECK(!strncmp((const char *)h, longname + 91, 100));
	CHECK(!strncmp((const char *)h + 345, longname, 90));
	CHECK(h[345 + 90] == '\0');
	CHECK(tar_sum_ok(h));

	/* a component over 100 bytes: a pax "path" record first */
	memset(comp, 'x', 150);
	comp[150] = '\0';
	snprintf(longname, sizeof(longname), "top/%s", comp);
	e.name = longname;
	e.linkname = NULL;
	buf_reset(&b);
	web_tar_header(&b, &e);
	h = (const unsigned char *)b.data;
	CHECK(b.len == 3 * 512);
	CHECK(h[156] == 'x');
	CHECK(tar_sum_ok(h));
	/* the record counts its own length digits */
	{
		size_t rec = strtoul((const char *)h + 512, NULL, 10);
		const char *nl = memchr(h + 512, '\n', 512);

		CHECK(nl && (size_t)(nl + 1 - (const char *)h - 512) == rec);
		CHECK(!strncmp((const char *)h + 512 + 4, "path=top/xxx", 12));
	}
	CHECK(h[1024 + 156] == '0');
	CHECK(tar_sum_ok(h + 1024));

	/* a symlink with a long target; huge ids */
	e.name = "l";
	e.type = '2';
	e.size = 0;
	e.linkname = longname;
	e.uid = 1LL << 40;
	buf_reset(&b);
	web_tar_header(&b, &e);
	h = (const unsigned char *)b.data;
	CHECK(b.len == 3 * 512);
	CHECK(strstr((const char *)h + 512, " linkpath=top/xxx"));
	CHECK(strstr((const char *)h + 512, " uid=1099511627776\n"));
	CHECK(h[1024 + 156] == '2');
	buf_release(&b);
}

UNIT_TEST(web, ranges)
{
	uint64_t a = 0, z = 0;

	CHECK(web_parse_range(NULL, 10, &a, &z) == 0);
	CHECK(web_parse_range("bytes=0-3", 10, &a, &z) == 1 && a == 0 &&
	      z == 3);
	CHECK(web_parse_range("bytes=5-", 10, &a, &z) == 1 && a == 5 &&
	      z == 9);
	CHECK(web_parse_range("bytes=5-100", 10, &a, &z) == 1 && z == 9);
	CHECK(web_parse_range("bytes=-3", 10, &a, &z) == 1 && a == 7 &&
	      z == 9);
	CHECK(web_parse_range("bytes=-30", 10, &a, &z) == 1 && a == 0);
	CHECK(web_parse_range("bytes=10-", 10, &a, &z) == -1);
	CHECK(web_parse_range("bytes=-0", 10, &a, &z) == -1);
	CHECK(web_parse_range("bytes=0-", 0, &a, &z) == -1);
	CHECK(web_parse_range("bytes=4-2", 10, &a, &z) == 0);
	CHECK(web_parse_range("bytes=0-1,3-4", 10, &a, &z) == 0);
	CHECK(web_parse_range("items=0-1", 10, &a, &z) == 0);
	CHECK(web_parse_range("bytes=x-1", 10, &a, &z) == 0);
	CHECK(web_parse_range("bytes=99999999999999999999-", 10, &a, &z) == 0);
}

UNIT_TEST(web, http_date)
{
	struct buf b = BUF_INIT;

	web_http_date(&b, 0);
	CHECK(!strcmp(b.data, "Thu, 01 Jan 1970 00:00:00"));
	buf_reset(&b);
	web_http_date(&b, 1796544875);
	CHECK(!strcmp(b.data, "Sun, 06 Dec 2026 08:14:35"));
	buf_release(&b);
}
