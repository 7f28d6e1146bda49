/** File-system errors in words: what went wrong with a path, with the errno code kept for searching. */

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EEXIST: "a file of that name is in the way",
  ELOOP: "too many levels of symbolic links (a symlink loop)",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "a part of the path is not a folder",
  ENAMETOOLONG: "the path is too long",
  EMFILE: "too many open files in this process",
  EIO: "input/output error of the device",
};

/** "permission denied (EACCES)" for a Node fs error; the error's own message for anything else. */
export function fsErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`;
  return err instanceof Error ? err.message : String(err);
}
