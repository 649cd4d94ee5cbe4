#!/usr/bin/env python3
"""Replace a file the way a config-management tool does, with the same
system calls in the same order (read from each tool's own source):

  puppet  Puppet::Util.replace_file under the file resource: a <name>.lock
          directory, a Tempfile "<name><date>-<pid>-<rand>" (O_EXCL, 0600)
          fchown'd and fchmod'd to the target's, written, fsync'd, closed,
          renamed over the target, unlinked again (Tempfile#close!, ENOENT
          ignored), the lock removed.
  salt    salt.utils.files.copyfile: mkstemp(prefix=<name>) beside the
          target, shutil.copyfile into it, shutil.move over the target,
          then os.chown and os.chmod of the target to its old owner and mode.
  chef    Chef's file resource (Deploy::MvUnix): a Tempfile
          ".chef-<name><date>-<pid>-<rand>" written and closed, chown and
          chmod to the target's, then renamed over it.

Each first reads the target and does nothing when the content is the same.
Prints "changed" or "ok"; on failure prints the error and exits 1.

usage: cm_replace.py TOOL TARGET CONTENT
"""
import errno
import os
import random
import shutil
import sys
import tempfile
import time


def same_content(target, content):
    with open(target, "rb") as f:
        return f.read() == content


def ruby_tmpname(prefix):
    return "%s%s-%d-%s" % (prefix, time.strftime("%Y%m%d"), os.getpid(),
                           format(random.getrandbits(32), "x"))


def puppet(target, content):
    directory, name = os.path.split(target)
    lock = os.path.join(directory, name + ".lock")
    os.mkdir(lock, 0o700)
    try:
        tmp = os.path.join(directory, ruby_tmpname(name))
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            st = os.lstat(target)
            os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, st.st_mode & 0o7777)
            os.write(fd, content)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.rename(tmp, target)
        finally:
            if fd >= 0:
                os.close(fd)
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    finally:
        os.rmdir(lock)


def salt(target, content):
    directory, name = os.path.split(target)
    source = tempfile.NamedTemporaryFile(delete=False)
    source.write(content)
    source.close()
    try:
        fd, tgt = tempfile.mkstemp(prefix=name, dir=directory)
        os.close(fd)
        shutil.copyfile(source.name, tgt)
        fstat = os.stat(target)
        try:
            shutil.move(tgt, target)
            os.chown(target, fstat.st_uid, fstat.st_gid)
            os.chmod(target, fstat.st_mode)
        finally:
            if os.path.isfile(tgt):
                os.remove(tgt)
    finally:
        os.unlink(source.name)


def chef(target, content):
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, ruby_tmpname(".chef-" + name))
    with open(tmp, "xb") as f:
        f.write(content)
    try:
        st = os.stat(target)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.rename(tmp, target)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def main():
    tool, target, content = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    if same_content(target, content):
        print("ok")
        return 0
    try:
        {"puppet": puppet, "salt": salt, "chef": chef}[tool](target, content)
    except OSError as e:
        print("error: %s: %s" % (errno.errorcode.get(e.errno, e.errno), e))
        return 1
    print("changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
