/*
 * The root key: 32 random bytes in STATE/policy.key, mode 0600, created on
 * first use. Every token's chain starts from it, so a key another user can
 * read is refused rather than used. Created beside and linked into place,
 * so two processes starting at once (a server and `cellgate token mint`)
 * end up with the same key, never a half-written one.
 */
#include "rootkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

static int read_key(const char *path, uint8_t key[POLICY_KEY_LEN], err_t *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? CG_ENOTFOUND
				       : err_set(err, CG_ESYS, "cannot read the policy key: %s",
						 strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != POLICY_KEY_LEN) {
		close(fd);
		return err_set(err, CG_ESTATE, "the policy key in the state directory is damaged");
	}
	if (st.st_mode & 077) {
		close(fd);
		return err_set(err, CG_ESTATE, "the policy key is readable by others: chmod 600 it "
			       "(and mint new tokens if it leaked)");
	}
	n = read(fd, key, POLICY_KEY_LEN);
	close(fd);
	if (n != POLICY_KEY_LEN)
		return err_set(err, CG_ESYS, "cannot read the policy key");
	return 0;
}

static int create_key(const char *path, err_t *err)
{
	char tmp[4200];
	uint8_t key[POLICY_KEY_LEN];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
		return err_set(err, CG_EINVAL, "the state directory's path is too long");
	if (util_random_bytes(key, sizeof key))
		return err_set(err, CG_ESYS, "cannot generate the policy key");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, CG_ESYS, "cannot create the policy key: %s", strerror(errno));
	if (write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) != 0)
		rc = err_set(err, CG_ESYS, "cannot write the policy key: %s", strerror(errno));
	close(fd);
	OPENSSL_cleanse(key, sizeof key);
	/* link() fails if another process got there first: theirs is kept */
	if (!rc && link(tmp, path) != 0 && errno != EEXIST)
		rc = err_set(err, CG_ESYS, "cannot install the policy key: %s", strerror(errno));
	unlink(tmp);
	return rc;
}

int policy_root_key(const char *state_dir, bool may_create, uint8_t key[POLICY_KEY_LEN],
		    err_t *err)
{
	char path[4096];
	int rc;

	if (snprintf(path, sizeof path, "%s/policy.key", state_dir) >= (int)sizeof path)
		return err_set(err, CG_EINVAL, "the state directory's path is too long");
	rc = read_key(path, key, err);
	if (rc != CG_ENOTFOUND)
		return rc;
	if (!may_create)
		return err_set(err, CG_ENOTFOUND, "there is no policy key in the state directory yet");
	if ((rc = create_key(path, err)))
		return rc;
	return read_key(path, key, err);
}
