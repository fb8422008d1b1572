/* Deterministic ustar output (see tar_writer.h). */
#include <errno.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "tar_writer.h"

#define BLOCK 512

void tw_init(struct tar_writer *w, int fd, int64_t mtime)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->mtime = mtime;
}

static int put(struct tar_writer *w, const void *data, size_t len)
{
	int r = write_all(w->fd, data, len);
	if (r < 0)
		return r;
	w->off += len;
	return 0;
}

/* An octal field of WIDTH bytes (WIDTH-1 digits and a NUL), or base-256
 * when the value does not fit. */
static void octal(char *field, size_t width, uint64_t v)
{
	if (width - 1 < 22 && v >> (3 * (width - 1))) {
		memset(field, 0, width);
		field[0] = (char)0x80;
		for (size_t k = width - 1; k > 0 && v; k--, v >>= 8)
			field[k] = (char)(v & 0xff);
		return;
	}
	snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

static int header(struct tar_writer *w, const char *name, char type, unsigned mode,
		  uint64_t size, const char *link)
{
	if (w->left)
		return -EINVAL;
	char h[BLOCK] = { 0 };
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen > 100 || (link && strlen(link) > 100))
		return -ENAMETOOLONG;
	memcpy(h, name, nlen);
	octal(h + 100, 8, mode);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, (uint64_t)(w->mtime > 0 ? w->mtime : 0));
	h[156] = type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	memcpy(h + 257, "ustar\0" "00", 8);
	octal(h + 329, 8, 0);
	octal(h + 337, 8, 0);
	/* The checksum counts its own field as eight spaces. */
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t k = 0; k < BLOCK; k++)
		sum += (unsigned char)h[k];
	snprintf(h + 148, 8, "%06o", sum);
	int r = put(w, h, BLOCK);
	if (r == 0) {
		w->left = size;
		w->size = size;
	}
	return r;
}

int tw_file_header(struct tar_writer *w, const char *name, unsigned mode, uint64_t size)
{
	return header(w, name, '0', mode, size, NULL);
}

int tw_dir(struct tar_writer *w, const char *name)
{
	return header(w, name, '5', 0755, 0, NULL);
}

int tw_symlink(struct tar_writer *w, const char *name, const char *target)
{
	return header(w, name, '2', 0777, 0, target);
}

int tw_write(struct tar_writer *w, const void *data, size_t len)
{
	if (len > w->left)
		return -EFBIG;
	int r = put(w, data, len);
	if (r == 0)
		w->left -= len;
	return r;
}

int tw_end_entry(struct tar_writer *w)
{
	if (w->left)
		return -EIO;   /* the entry got fewer bytes than its header says */
	static const char zero[BLOCK];
	size_t pad = (size_t)((BLOCK - w->size % BLOCK) % BLOCK);
	w->size = 0;
	return pad ? put(w, zero, pad) : 0;
}

int tw_file(struct tar_writer *w, const char *name, const void *data, size_t len)
{
	int r = tw_file_header(w, name, 0644, len);
	if (r == 0)
		r = tw_write(w, data, len);
	return r < 0 ? r : tw_end_entry(w);
}

int tw_finish(struct tar_writer *w)
{
	static const char zero[2 * BLOCK];
	return put(w, zero, sizeof(zero));
}

/* Plain copy through a buffer, for outputs the kernel paths refuse. */
static int copy_rw(int in, uint64_t *inoff, int out, uint64_t len)
{
	_cleanup_free_ char *buf = malloc(1u << 20);
	if (!buf)
		return -ENOMEM;
	while (len) {
		size_t want = len < (1u << 20) ? (size_t)len : (1u << 20);
		ssize_t n = RETRY_EINTR(pread(in, buf, want, (off_t)*inoff));
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;   /* the file is shorter than it was */
		int r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
		*inoff += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int copy_fd_range(int in, uint64_t *inoff, int out, uint64_t len)
{
	bool cfr = true, sf = true;
	while (len) {
		size_t want = len < (1u << 30) ? (size_t)len : (1u << 30);
		ssize_t n = -1;
		if (cfr) {
			loff_t o = (loff_t)*inoff;
			n = copy_file_range(in, &o, out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP || errno == EBADF)) {
				cfr = false;
				continue;
			}
		} else if (sf) {
			off_t o = (off_t)*inoff;
			n = sendfile(out, in, &o, want);
			if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
				sf = false;
				continue;
			}
		} else {
			return copy_rw(in, inoff, out, len);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		*inoff += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int tw_copy_fd(struct tar_writer *w, int in, uint64_t len)
{
	if (len > w->left)
		return -EFBIG;
	uint64_t inoff = 0;
	int r = copy_fd_range(in, &inoff, w->fd, len);
	if (r == 0) {
		w->off += len;
		w->left -= len;
	}
	return r;
}

int clone_or_copy_fd(int in, int out, uint64_t len)
{
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	uint64_t off = 0;
	return copy_fd_range(in, &off, out, len);
}
