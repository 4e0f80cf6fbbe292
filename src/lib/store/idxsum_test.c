/*
 * idxsum: a missing file is ERR_NOTFOUND in the file's own words, a
 * mapped file reads back, the name list round-trips through
 * idxsum_add_name() and idxsum_parse_names() and a bad one is corrupt
 * in the caller's kind, and idx paths are found beside the file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/idxsum.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"

UNIT_TEST(idxsum, open_and_map)
{
	char *path = xstrfmt("%s/x.midx", unit_tmpdir());
	uint64_t size = 0;
	void *map = NULL;
	int fd;

	CHECK(idxsum_open(path, "midx", 0, &size) == ERR_NOTFOUND);
	CHECK(strstr(err_last(), "midx '") && strstr(err_last(), path) &&
	      strstr(err_last(), "' does not exist"));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write_full(fd, "MIDXdata", 8) == 0);
	if (fd >= 0)
		close(fd);
	fd = idxsum_open(path, "midx", 1, &size);
	CHECK(fd >= 0 && size == 8);
	if (fd >= 0) {
		CHECK(idxsum_map(&map, fd, (size_t)size, 1, path) == 0);
		/* shared and writable: a change reaches the file */
		if (map) {
			CHECK(!memcmp(map, "MIDXdata", 8));
			memcpy(map, "BLOM", 4);
			munmap(map, 8);
		}
	}
	fd = idxsum_open(path, "bloom", 0, &size);
	CHECK(fd >= 0);
	if (fd >= 0 && idxsum_map(&map, fd, 8, 0, path) == 0) {
		CHECK(!memcmp(map, "BLOMdata", 8));
		munmap(map, 8);
	}
	free(path);
}

UNIT_TEST(idxsum, names_round_trip)
{
	struct buf names = BUF_INIT;
	char **list = NULL;
	size_t nr = 0;

	idxsum_add_name(&names, "/repo/objects/pack/pack-a.idx");
	idxsum_add_name(&names, "pack-b.idx");
	CHECK(names.len == 21 && !memcmp(names.data, "pack-a.idx\0pack-b.idx",
					 21));
	CHECK(idxsum_parse_names(&list, &nr, names.data, names.len, "f",
				 "bloom") == 0);
	CHECK(nr == 2 && list && !strcmp(list[1], "pack-b.idx"));
	free(list);
	/* a bad list: corrupt, in the caller's words; outputs untouched */
	list = NULL;
	nr = 7;
	CHECK(idxsum_parse_names(&list, &nr, "a\0\0b", 4, "t.midx", "midx") ==
	      ERR_CORRUPT);
	CHECK(!strcmp(err_last(), "t.midx: corrupt midx: invalid idx name #1"));
	CHECK(list == NULL && nr == 7);
	buf_release(&names);
}

UNIT_TEST(idxsum, idx_beside_file)
{
	char *p = idxsum_idx_path("/r/objects/pack/bup.bloom", "pack-a.idx");

	CHECK(!strcmp(p, "/r/objects/pack/pack-a.idx"));
	free(p);
	p = idxsum_idx_path("x.midx", "pack-a.idx");
	CHECK(!strcmp(p, "pack-a.idx"));
	free(p);
	p = idxsum_idx_path("/x.midx", "pack-a.idx");
	CHECK(!strcmp(p, "/pack-a.idx"));
	free(p);
}
