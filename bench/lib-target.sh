# Sourced by bench/run and bench/full: restore targets on a filesystem of
# their own, made afresh for every restore.
#
# Why: ext4 does not reuse an inode freed less than 60 s ago (300 s more
# while its block is dirty; fs/ext4/ialloc.c recently_deleted()), and
# finding a free one scans past every such inode.  Restoring 40k files
# right after deleting the previous run's 40k makes every create walk
# that list: on this machine `cp -a` of the save tree took 2 s on a clean
# disk and 19 s after a delete, all of it kernel time in
# recently_deleted/find_inode_bit, and the figure grew run after run.  A
# fresh ext4 in a RAM-backed image keeps that out of both tools' figures
# and off the shared disk; without root (no loop mount) the target is a
# directory in /dev/shm (tmpfs), or plain DIR as a last resort.
#
#   target_new DIR MB   mount an empty filesystem of MB megabytes on DIR
#   target_drop DIR     unmount it and free its memory

# Memory the VM has not touched for a while costs the hypervisor a fault
# per page on first use: a restore into a brand-new image took 3.4-4.8 s
# (sys 1.7-4.7 s) against 2.8-3.1 s (sys 1.2-1.4 s) once the same amount
# had been written and deleted there first, and `cp -a` 0.7-1.05 s
# against 0.73 s.  Which tool met fresh memory depended on the run
# order; writing half the image once and deleting it makes every
# tool's target alike.
target_warm() {
	dd if=/dev/zero of="$1/.warm" bs=1M count=$(($2 / 2)) 2>/dev/null
	rm -f "$1/.warm"
	sync
}

target_img=
target_new() {
	tn_dir=$1 tn_mb=$2
	mkdir -p "$tn_dir" || return 1
	if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null 2>&1 &&
	   [ -d /dev/shm ]; then
		target_img=/dev/shm/cbup-bench-target-$$.img
		rm -f "$target_img"
		if truncate -s "${tn_mb}M" "$target_img" &&
		   mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 \
			"$target_img" >/dev/null 2>&1 &&
		   mount -o loop "$target_img" "$tn_dir" 2>/dev/null; then
			rmdir "$tn_dir/lost+found" 2>/dev/null
			target_warm "$tn_dir" "$tn_mb"
			return 0
		fi
		rm -f "$target_img"
		target_img=
	fi
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		rm -rf "$tn_dir" && mkdir -p "/dev/shm/cbup-bench-target-$$" &&
			ln -s "/dev/shm/cbup-bench-target-$$" "$tn_dir" && return 0
	fi
	return 0
}

target_drop() {
	td_dir=$1
	if [ -n "$target_img" ]; then
		umount "$td_dir" 2>/dev/null || umount -l "$td_dir"
		rm -f "$target_img"
		target_img=
	elif [ -L "$td_dir" ]; then
		rm -rf "/dev/shm/cbup-bench-target-$$" "$td_dir"
		return 0
	fi
	rm -rf "$td_dir"
}
