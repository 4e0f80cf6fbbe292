/*
 * bup's *_path_components() for save (archpath.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pipelines/archpath.h"
#include "util/err.h"
#include "util/pypath.h"
#include "util/strv.h"
#include "util/util.h"

static int has_prefix(const char *s, size_t n, const char *p, size_t pn)
{
	return n >= pn && !memcmp(s, p, pn);
}

void archpath_comps_release(struct archpath_comps *c)
{
	buf_release(&c->store);
	free(c->v);
	c->v = NULL;
	c->nr = c->alloc = 0;
}

static void comps_reset(struct archpath_comps *c)
{
	buf_reset(&c->store);
	c->nr = 0;
}

static void comps_add(struct archpath_comps *c, const char *name,
		      size_t nlen, const char *fs, size_t fslen, int has_fs)
{
	struct archpath_comp *x;

	ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	x = &c->v[c->nr++];
	x->name_ofs = c->store.len;
	x->name_len = nlen;
	buf_add(&c->store, name, nlen);
	buf_addch(&c->store, '\0');
	x->has_fs = has_fs;
	x->fs_ofs = c->store.len;
	x->fs_len = has_fs ? fslen : 0;
	if (has_fs)
		buf_add(&c->store, fs, fslen);
	buf_addch(&c->store, '\0');
}

/* Component i of src, appended to c. */
static void comps_copy(struct archpath_comps *c,
		       const struct archpath_comps *src, size_t i)
{
	comps_add(c, archpath_name(src, i), src->v[i].name_len,
		  archpath_fs(src, i), src->v[i].fs_len, src->v[i].has_fs);
}

void archpath_components(struct archpath_comps *c, const char *path)
{
	struct buf norm = BUF_INIT;
	const char *s, *e;

	comps_reset(c);
	comps_add(c, "", 0, "/", 1, 1);
	pypath_abspath(&norm, path);
	if (strcmp(norm.data, "/")) {
		/* norm_path.split('/')[1:], full_path += '/' + p */
		s = norm.data + 1;
		for (;;) {
			e = strchrnul(s, '/');
			comps_add(c, s, (size_t)(e - s), norm.data,
				  (size_t)(e - norm.data), 1);
			if (!*e)
				break;
			s = e + 1;
		}
	}
	buf_release(&norm);
}

/*
 * stripped_path_components(): strip the longest prefix (a string
 * prefix, as bup tests it) of the normalised path.
 */
static void stripped_components(struct archpath_comps *c, const char *path,
				char *const *prefixes, size_t nr)
{
	struct buf norm = BUF_INIT, prefix = BUF_INIT;

	pypath_abspath(&norm, path);
	for (size_t i = 0; i < nr; i++) {
		size_t bl = strlen(prefixes[i]);
		const char *s, *e;

		if (!has_prefix(norm.data, norm.len, prefixes[i], bl))
			continue;
		comps_reset(c);
		buf_reset(&prefix);
		buf_add(&prefix, norm.data, bl);
		s = norm.data + bl;
		for (;;) {
			e = strchrnul(s, '/');
			if (e > s)   /* not root */
				buf_addch(&prefix, '/');
			buf_add(&prefix, s, (size_t)(e - s));
			comps_add(c, s, (size_t)(e - s), prefix.data,
				  prefix.len, 1);
			if (!*e)
				break;
			s = e + 1;
		}
		goto out;
	}
	archpath_components(c, path);
out:
	buf_release(&norm);
	buf_release(&prefix);
}

static size_t count_ch(const char *s, int ch)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

/* grafted_path_components(), the first matching graft wins. */
static void grafted_components(struct archpath_comps *c,
			       const struct archpath_graft *g, size_t nr,
			       const char *path)
{
	struct buf clean = BUF_INIT, grafted = BUF_INIT;
	struct archpath_comps cc = ARCHPATH_COMPS_INIT;

	pypath_abspath(&clean, path);
	for (size_t i = 0; i < nr; i++) {
		const char *old = g[i].old_path, *new = g[i].new_path;
		size_t strip, nprefix, k;
		const char *s, *last;

		if (!has_prefix(clean.data, clean.len, old, strlen(old)))
			continue;
		/*
		 * re.sub('^' + old, new, clean), then '/' + lstrip('/').
		 * NEEDSWORK: re.sub would also expand backslash escapes
		 * in `new`; paths with backslashes are taken literally.
		 */
		{
			struct buf t = BUF_INIT;
			const char *q;

			buf_addstr(&t, new);
			buf_addstr(&t, clean.data + strlen(old));
			q = t.data;
			while (*q == '/')
				q++;
			buf_addch(&grafted, '/');
			buf_addstr(&grafted, q);
			buf_release(&t);
		}
		archpath_components(&cc, clean.data);
		strip = !strcmp(old, "/") ? 0 : count_ch(old, '/');
		nprefix = count_ch(new, '/');
		comps_reset(c);
		/* grafted.split('/')[:new.count('/')] as (p, None) */
		s = grafted.data;
		for (k = 0; k < nprefix; k++) {
			const char *e = strchrnul(s, '/');
			comps_add(c, s, (size_t)(e - s), NULL, 0, 0);
			if (!*e)
				break;
			s = e + 1;
		}
		nprefix = c->nr;
		for (k = strip; k < cc.nr; k++)
			comps_copy(c, &cc, k);
		/* result[len(prefix)] = (new.split('/')[-1], clean[strip][1]) */
		last = strrchr(new, '/');
		last = last ? last + 1 : new;
		if (nprefix < c->nr && strip < cc.nr) {
			struct archpath_comps t = ARCHPATH_COMPS_INIT;
			for (k = 0; k < c->nr; k++) {
				if (k == nprefix)
					comps_add(&t, last, strlen(last),
						  archpath_fs(&cc, strip),
						  cc.v[strip].fs_len,
						  cc.v[strip].has_fs);
				else
					comps_copy(&t, c, k);
			}
			comps_reset(c);
			/* --graft ...=/ drops the first component */
			for (k = !strcmp(new, "/"); k < t.nr; k++)
				comps_copy(c, &t, k);
			archpath_comps_release(&t);
		}
		goto out;
	}
	archpath_components(c, clean.data);
out:
	buf_release(&clean);
	buf_release(&grafted);
	archpath_comps_release(&cc);
}

void archpath_map(struct archpath_comps *c, const struct archpath_rules *r,
		  const char *path)
{
	if (r && r->nr_strip)
		stripped_components(c, path, r->strip, r->nr_strip);
	else if (r && r->nr_graft)
		grafted_components(c, r->graft, r->nr_graft, path);
	else
		archpath_components(c, path);
}

void archpath_rules_release(struct archpath_rules *r)
{
	strv_free(r->strip, r->nr_strip);
	for (size_t i = 0; i < r->nr_graft; i++) {
		free(r->graft[i].old_path);
		free(r->graft[i].new_path);
	}
	free(r->graft);
	memset(r, 0, sizeof(*r));
}

void archpath_add_strip(struct archpath_rules *r, const char *path)
{
	struct buf b = BUF_INIT;
	size_t k, len;

	pypath_abspath(&b, path);
	if (!strcmp(b.data, "/")) {
		/* a prefix of "/" is ignored */
		buf_release(&b);
		return;
	}
	/* sorted(key=len, reverse=True) keeps equal lengths in order */
	ALLOC_GROW(r->strip, r->nr_strip + 1, r->alloc_strip);
	len = b.len;
	for (k = r->nr_strip; k > 0 && strlen(r->strip[k - 1]) < len; k--)
		r->strip[k] = r->strip[k - 1];
	r->strip[k] = buf_detach(&b, NULL);
	r->nr_strip++;
}

int archpath_add_graft(struct archpath_rules *r, const char *spec)
{
	const char *eq = strchr(spec, '=');
	struct buf a = BUF_INIT, b = BUF_INIT, t = BUF_INIT;
	char *old_p, *new_p;

	if (!eq || strchr(eq + 1, '='))
		return err_set(ERR_USAGE, "a graft point must be of the form "
			       "old_path=new_path");
	if (eq == spec || !eq[1])
		return err_set(ERR_USAGE, "a graft point cannot be empty");
	old_p = xstrndup(spec, (size_t)(eq - spec));
	new_p = xstrdup(eq + 1);
	pypath_resolve_parent(&t, old_p);
	pypath_normpath(&a, t.data);
	buf_reset(&t);
	pypath_resolve_parent(&t, new_p);
	pypath_normpath(&b, t.data);
	ALLOC_GROW(r->graft, r->nr_graft + 1, r->alloc_graft);
	r->graft[r->nr_graft].old_path = buf_detach(&a, NULL);
	r->graft[r->nr_graft].new_path = buf_detach(&b, NULL);
	r->nr_graft++;
	free(old_p);
	free(new_p);
	buf_release(&t);
	return 0;
}
