/*
 * Fuzz the server protocol parsers (proto.h): command lines, and the
 * bounded stream readers (resolutions, VFS errors, replies, frames, the
 * mux stream of a bup:// connection) over a memfd holding the input.
 * The first byte picks the target.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "remote/proto.h"
#include "vfs/vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void streams(int mode, const uint8_t *data, size_t size)
{
	struct proto_conn c;
	struct vfs_list l;
	struct buf b = BUF_INIT;
	int fd = memfd_create("fuzz", 0), no, term;
	uint32_t n;

	if (fd < 0)
		return;
	if (write_full(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return;
	}
	proto_conn_init(&c, fd, -1);
	vfs_list_init(&l);
	switch (mode) {
	case 1:
		proto_read_resolution(&c, &l);
		break;
	case 2:
		proto_read_ioerror(&c, &no, &b, &l, &term);
		break;
	case 3:
		while (proto_check_ok(&c) == 0)
			;
		break;
	case 4: {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			proto_demux(fd, null, null);
			close(null);
		}
		break;
	}
	default:
		/* receive-objects-v2 framing as the server reads it */
		while (!proto_read_u32(&c, &n) && n && n <= 4096) {
			buf_grow(&b, n);
			if (proto_read(&c, b.data, n) < 0)
				break;
		}
		while (proto_read_line(&c, &b, 64) > 0)
			;
		break;
	}
	vfs_list_release(&l);
	buf_release(&b);
	proto_conn_release(&c);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req;

	if (!size)
		return 0;
	if (data[0] == 0) {
		if (!proto_parse_command(&req, data + 1, size - 1))
			proto_request_release(&req);
		if (size - 1 < 256) {
			char name[256];
			memcpy(name, data + 1, size - 1);
			name[size - 1] = '\0';
			proto_check_refname(name);
			proto_valid_idx_name(name, size - 1);
		}
		return 0;
	}
	streams(data[0] % 5, data + 1, size - 1);
	return 0;
}
