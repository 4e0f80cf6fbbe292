#!/bin/sh
# cbup xstat against real bup 0.33.7 (FORMAT.md 5.3-5.4): the same bytes
# on stdout and stderr and the same exit code for every file type, for
# xattrs, POSIX ACLs, nanosecond and pre-1970 times, odd names, missing
# paths, field selection, time resolutions and usage errors.
. "$(dirname "$0")/test-lib.sh"

# Compare "cbup ARGS" with "bup ARGS" run in the sample directory.
xstat_cmp() {
	(cd samples && bup xstat "$@") >bup.out 2>bup.err
	echo $? >bup.rc
	(cd samples && cbup xstat "$@") >cbup.out 2>cbup.err
	echo $? >cbup.rc
	test_cmp bup.out cbup.out &&
	test_cmp bup.err cbup.err &&
	test_cmp bup.rc cbup.rc
}

test_declare_prereq XATTR FS_ACL
test_expect_success PYTHON 'setup: one of every file type' '
	mkdir samples &&
	(
		cd samples &&
		printf "hello\n" >f &&
		printf "#!/bin/sh\n" >exe && chmod 4755 exe &&
		ln -s f link &&
		ln -s /no/such/target dangling &&
		mkfifo fifo &&
		mkdir dir && chmod 2750 dir &&
		printf x >"sp ace" && printf y >"q\"uote" &&
		touch -d @-1.5 old && touch -d @-7 old2 &&
		touch -d @1700000000.000000005 nano &&
		touch -h -d @1700000000.5 link &&
		: >hl && ln hl hl2
	) &&
	(cd samples && python3 -c "import socket
s = socket.socket(socket.AF_UNIX); s.bind(\"sock\")")
'

test_expect_success ROOT 'setup: devices and foreign owners' '
	(
		cd samples &&
		mknod chr c 1 3 && mknod blk b 7 300 &&
		: >own && chown 12345:54321 own
	)
'

if (cd samples && setfattr -n user.foo -v bar f 2>/dev/null &&
    setfattr -n user.abc -v xyz f && setfattr -n user.bin -v 0x00ff01 nano)
then
	test_set_prereq XATTR
else
	say "# user xattrs not supported under $TRASH: skipping them"
fi
if test_have_prereq ACL &&
   (cd samples && : >acl && setfacl -m u:nobody:r acl 2>/dev/null &&
    mkdir dacl && setfacl -m u:nobody:rwx dacl &&
    setfacl -d -m u:nobody:rx dacl && mkdir dacl2 &&
    setfacl -m u:nobody:rwx dacl2)
then
	test_set_prereq FS_ACL
else
	say "# POSIX ACLs not supported under $TRASH: skipping them"
fi

test_expect_success BUP 'xstat: every sample, byte for byte' '
	# readlink() moves a fresh symlink atime (relatime, while atime is
	# not newer than ctime at the clock tick granularity): settle it.
	# bup'"'"'s Python lists its current directory at start-up, which
	# moves the atime of "." the same way.
	(cd samples && cbup xstat link dangling >/dev/null) &&
	(cd samples && bup xstat . >/dev/null) &&
	sleep 1 &&
	(cd samples && cbup xstat link dangling >/dev/null) &&
	xstat_cmp f exe link dangling fifo dir "sp ace" "q\"uote" old old2 \
		nano hl hl2 . &&
	test_cmp bup.rc - <<-\EOF
	0
	EOF
'

test_expect_success BUP 'xstat: the records bup would keep, by type' '
	grep -a "^mode: 120777 (lrwxrwxrwx)" cbup.out &&
	grep -a "^link-target: f$" cbup.out &&
	grep -a "^mode: 10644 (prw-r--r--)" cbup.out &&
	grep -a "^mode: 104755 (-rwxr-xr-x)" cbup.out &&
	grep -a "^atime: -1.500000000$" cbup.out &&
	grep -a "^mtime: -6$" cbup.out &&
	grep -a "^mtime: 1700000000.000000005$" cbup.out
'

test_expect_success XATTR 'xstat: xattrs in kernel order' '
	(cd samples && cbup xstat f) >out &&
	grep "^linux-xattr:" out >actual &&
	cat >expect <<-\EOF &&
	linux-xattr: user.foo -> bar
	linux-xattr: user.abc -> xyz
	EOF
	test_cmp expect actual
'

test_expect_success FS_ACL 'xstat: ACL text' '
	(cd samples && cbup xstat --include-fields=posix1e-acl acl dacl) >out &&
	cat >expect <<-\EOF &&
	posix1e-acl: u::rw-,u:nobody:r--,g::r--,m::r--,o::r--


	posix1e-acl: u::rwx,u:nobody:rwx,g::r-x,m::rwx,o::r-x

	posix1e-acl-default: u::rwx,u:nobody:r-x,g::r-x,m::r-x,o::r-x

	EOF
	test_cmp expect out
'

test_expect_success BUP 'xstat: ACLs, devices, sockets, owners' '
	for p in acl dacl dacl2 chr blk sock own; do
		test -e samples/$p || test -h samples/$p || continue
		xstat_cmp $p || return 1
	done
'

test_expect_success BUP 'xstat: missing paths are counted errors' '
	xstat_cmp f missing other-missing &&
	test_cmp bup.rc - <<-\EOF
	1
	EOF
'

test_expect_success BUP 'xstat: field selection in command-line order' '
	xstat_cmp --exclude-fields=atime,ctime f dir &&
	xstat_cmp --include-fields=mode,size --exclude-fields=size f &&
	xstat_cmp --exclude-fields=size --include-fields=mode f &&
	xstat_cmp --include-fields mode --include=uid,path f &&
	xstat_cmp --exclude-fields=path,mode --exclude-fields=rdev f &&
	xstat_cmp -q f missing &&
	xstat_cmp -v f
'

test_expect_success BUP 'xstat: time resolutions round like bup (floats)' '
	xstat_cmp --atime-resolution=1000ns nano f old &&
	xstat_cmp --mtime-resolution=1s --ctime-resolution=10ms nano old &&
	xstat_cmp --atime-resolution=100us --mtime-resolution 10ns nano old2 &&
	xstat_cmp --mtime-resolution=-10ns nano
'

test_expect_success BUP 'xstat: usage errors as bup (exit 97)' '
	xstat_cmp --atime-resolution=10 f &&
	xstat_cmp --atime-resolution=3ns f &&
	xstat_cmp --ctime-resolution=x f &&
	xstat_cmp --include-fields=bogus f &&
	xstat_cmp --exclude-fields=mode,nope f &&
	test_cmp bup.rc - <<-\EOF
	97
	EOF
'

test_done
