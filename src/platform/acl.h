/*
 * POSIX.1e ACLs through libacl, the way bup's _helpers.c read_acl and
 * apply_acl do it (FORMAT.md 5.4).  Linux only; knows nothing of bup's
 * record encoding.  Functions follow the system-call convention: 0 on
 * success, -1 with errno set on failure, so callers can apply bup's
 * per-errno rules.  Thread-safe as far as libacl is.
 */
#ifndef CBUP_PLATFORM_ACL_H
#define CBUP_PLATFORM_ACL_H

/*
 * Read the ACLs of `path` (never a symlink: the caller checks).
 * Returns 1 and fills out[0..3] with malloc'd strings (access text,
 * access numeric, default text, default numeric; the default pair is ""
 * unless `isdir`) when acl_extended_file() says the file has more than
 * the mode bits (or fails, which counts as "try"); 0 with out[] NULL when
 * there is nothing to record, including EOPNOTSUPP/ENOSYS; -1 with errno
 * on other errors.  Texts are acl_to_any_text(acl, "", ',',
 * TEXT_ABBREVIATE [| TEXT_NUMERIC_IDS]).
 */
int plat_acl_read(const char *path, int isdir, char *out[4]);

/*
 * acl_from_text + acl_set_file of the access ACL, then of the default
 * ACL if `def` is not NULL.  -1 with errno on the first failure.
 */
int plat_acl_apply(const char *path, const char *access, const char *def);
/*
 * plat_acl_apply() on the file open as fd (O_PATH too): acl_set_fd()
 * for the access ACL, the fd's /proc/self/fd path for the default ACL
 * (and for both when fd is O_PATH); never through another name.
 */
int plat_acl_apply_fd(int fd, const char *access, const char *def);

#endif
