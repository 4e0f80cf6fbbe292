# Helpers shared by the tests that run bup save and cbup save side by
# side (i4000, t4300): bup in repository $B, cbup in $A, each on its own
# copy of one index under $W.  Source after test-lib.sh, with A, B and W
# set.

# share_index: give $W/ix (and its .meta/.hlink) to each tool as $W/b/ix
# and $W/c/ix, the same relative name, so that both commit messages
# (which quote the command line) are the same.
share_index() {
	mkdir -p "$W/b" "$W/c" &&
	for s in "" .meta .hlink; do
		rm -f "$W/b/ix$s" "$W/c/ix$s" &&
		if [ -e "$W/ix$s" ]; then
			cp "$W/ix$s" "$W/b/ix$s" && cp "$W/ix$s" "$W/c/ix$s"
		fi || return 1
	done
}

# save_both ARGS: bup save and cbup save with the same arguments, each on
# its own index copy and repository; stdout, stderr and exit codes in
# $W/{b,c}.{out,err,rc}.
save_both() {
	(cd "$W/b" && BUP_DIR=$B bup save -f ix "$@") >"$W/b.out" 2>"$W/b.err"
	echo $? >"$W/b.rc"
	(cd "$W/c" && BUP_DIR=$A "$CBUP" save -f ix "$@") >"$W/c.out" 2>"$W/c.err"
	echo $? >"$W/c.rc"
}
