# Helpers for the commit-*.t suites: a two-layer image made with umoci, a
# scripted set of changes with the diff it must give, and tree listings
# that show everything a layer carries.  Source after lib.sh and
# store-lib.sh; store_setup first.

# Run the suite in a mount namespace of its own: its FUSE and tmpfs mounts
# vanish with it.
commit_own_namespace() {
	if [ -z "${COMMIT_NS:-}" ]; then
		COMMIT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
	fi
}

# Unmount whatever is mounted below DIR (deepest first).
unmount_below() {
	local m
	for m in $(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}

# make_change_image LAYOUT TAG: layer 1 a small root filesystem with old,
# fixed times; layer 2 a whiteout, a file added to a directory of layer 1,
# an xattr.
make_change_image() {
	local layout=$1 tag=$2 rf=$WORK/img-rootfs b=$WORK/img-bundle
	rm -rf "$rf" "$b"
	umoci init --layout "$layout" >/dev/null
	umoci new --image "$layout:$tag" >/dev/null
	mkdir -p "$rf"/{bin,etc,data/sub,srv/old/b,usr/share,lnk,var/log,home,tmp}
	cp /bin/busybox "$rf/bin/busybox"
	ln -s busybox "$rf/bin/sh"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rf/etc/passwd"
	echo motd >"$rf/etc/motd"
	echo keep >"$rf/etc/keep"
	echo x >"$rf/etc/xattr-file"
	echo keep >"$rf/data/keep"
	echo x >"$rf/data/sub/x"
	echo a >"$rf/srv/old/a"
	echo c >"$rf/srv/old/b/c"
	echo doc >"$rf/usr/share/doc.txt"
	echo target >"$rf/lnk/target"
	ln -s target "$rf/lnk/sym"
	echo 'log line' >"$rf/var/log/app.log"
	echo owned >"$rf/home/owned"
	chmod 1777 "$rf/tmp"
	find "$rf" -exec touch -h -d @1600000000 {} +
	umoci insert --image "$layout:$tag" "$rf" / >/dev/null
	umoci unpack --image "$layout:$tag" "$b" >/dev/null
	rm "$b/rootfs/etc/keep"
	echo l2 >"$b/rootfs/srv/old/l2"
	setfattr -n user.img -v one "$b/rootfs/etc/xattr-file"
	touch -h -d @1600000000 "$b/rootfs/srv/old/l2" "$b/rootfs/srv/old" "$b/rootfs/etc"
	umoci repack --image "$layout:$tag" "$b" >/dev/null
	rm -rf "$b"
}

# apply_changes ROOT: the scripted changes, through a mounted root.
apply_changes() {
	local R=$1
	echo added >"$R/added.txt"                         # add
	mkdir -p "$R/newdir/sub" && echo f >"$R/newdir/sub/f"
	echo more >>"$R/etc/passwd"                        # modify
	rm "$R/etc/motd"                                   # delete
	chmod 600 "$R/usr/share/doc.txt"                   # mode only
	chown 1000:1000 "$R/home/owned"                    # owner only
	rm -rf "$R/data" && mkdir "$R/data" && echo n >"$R/data/new"   # replace a directory
	mv "$R/srv/old" "$R/srv/new"                       # rename a directory (two layers)
	ln "$R/added.txt" "$R/added-link"                  # hardlink of a new file
	ln "$R/lnk/target" "$R/lnk/second"                 # hardlink of an image file
	ln -s /etc/passwd "$R/sym"                         # symlink
	ln -sfn elsewhere "$R/lnk/sym"                     # symlink retargeted
	mkfifo "$R/fifo"                                   # fifo
	mknod "$R/chardev" c 1 3                           # device
	setfattr -n user.test -v 1 "$R/etc/xattr-file"     # xattr only
	python3 -c 'import sys; f = open(sys.argv[1], "w"); f.write("rewritten\n")' \
		"$R/var/log/app.log"                       # O_TRUNC, then a write
}

# What apply_changes must give: podman's rules (a directory is C when
# something inside changed; a deleted tree is one D; a renamed directory
# is D of the old path and A of everything under the new one).
# XATTR_ONLY: the change an image's layer records cannot show (they carry
# no xattrs).
expected_diff() {
	cat <<'EOF2'
A /added-link
A /added.txt
A /chardev
C /data
D /data/keep
A /data/new
D /data/sub
C /etc
D /etc/motd
C /etc/passwd
C /etc/xattr-file
A /fifo
C /home
C /home/owned
C /lnk
A /lnk/second
C /lnk/sym
A /newdir
A /newdir/sub
A /newdir/sub/f
C /srv
A /srv/new
A /srv/new/a
A /srv/new/b
A /srv/new/b/c
A /srv/new/l2
D /srv/old
A /sym
C /usr
C /usr/share
C /usr/share/doc.txt
C /var
C /var/log
C /var/log/app.log
EOF2
}
XATTR_ONLY='C /etc/xattr-file'

# full_listing DIR: one line per entry below DIR: path, type, mode, owner,
# size, content hash, link target, device, content xattrs.
full_listing() {
	python3 - "$1" <<'EOF2'
import hashlib, os, stat, sys
root = sys.argv[1]
private = ("trusted.overlay.", "user.overlay.", "trusted.layerfs.", "user.layerfs.")
for d, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        p = os.path.join(d, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        m = st.st_mode
        kind = stat.S_IFMT(m)
        size = h = link = dev = ""
        if stat.S_ISREG(m):
            size = str(st.st_size)
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()[:16]
        elif stat.S_ISLNK(m):
            link = os.readlink(p)
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            dev = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        try:
            xs = sorted(x for x in os.listxattr(p, follow_symlinks=False)
                        if not x.startswith(private) and x != "user.containers.override_stat")
            xa = ",".join("%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()) for x in xs)
        except OSError:
            xa = "?"
        print("|".join([rel, "%o" % kind, "%o" % stat.S_IMODE(m), "%d:%d" % (st.st_uid, st.st_gid),
                        size, h, link, dev, xa]))
EOF2
}

# same_listing WANT_DIR GOT_DIR DESC
same_listing() {
	full_listing "$1" >"$WORK/want.list" 2>&1
	full_listing "$2" >"$WORK/got.list" 2>&1
	if [ -s "$WORK/want.list" ] && diff -u "$WORK/want.list" "$WORK/got.list" >"$WORK/list.diff"; then
		tap_ok "$3"
	else
		tap_not_ok "$3" "$(head -30 "$WORK/list.diff")"
	fi
}
