package groupsync

import (
	"os"

	"golang.org/x/sys/unix"
)

// fileKey tells one file from another.
type fileKey struct{ dev, ino uint64 }

// syncFileSystems writes back, with one syncfs per file system, the files
// of group, and gives the waiters of one file one sync to share: a check
// of the file's own write-back errors where syncfs succeeded on a kernel
// that reports its errors, else an fsync.
func syncFileSystems(group []*waiter) {
	reports := syncfsReportsErrors()
	clean := make(map[uint64]bool, 1)
	synced := make(map[uint64]bool, 1)
	files := make(map[fileKey]*sharedSync, len(group))
	for _, w := range group {
		var st unix.Stat_t
		fd := int(w.f.Fd())
		if err := unix.Fstat(fd, &st); err != nil {
			continue
		}
		k := fileKey{uint64(st.Dev), st.Ino}
		if !synced[k.dev] {
			synced[k.dev] = true
			clean[k.dev] = unix.Syncfs(fd) == nil && reports
		}
		if files[k] == nil {
			files[k] = &sharedSync{clean: clean[k.dev], regular: st.Mode&unix.S_IFMT == unix.S_IFREG}
		}
		w.same = files[k]
	}
}

// checkWriteBack returns the errors of writing back the data of the
// regular file f since it was opened (or since the last check), as fsync
// would, without flushing anything: after a clean syncfs, all that fsync
// would add.
func checkWriteBack(f *os.File) error {
	err := unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	if err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return nil
}

// syncfsReportsErrors reports whether the kernel's syncfs returns the
// errors of writing back the file system: since Linux 5.8.
func syncfsReportsErrors() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
}

// releaseAtLeast reports whether the kernel release rel ("6.18.44-fc")
// is major.minor or later; a release it cannot read is not.
func releaseAtLeast(rel string, major, minor int) bool {
	var nums [2]int
	i := 0
	for n := range nums {
		start := i
		for i < len(rel) && rel[i] >= '0' && rel[i] <= '9' && i-start < 6 {
			nums[n] = nums[n]*10 + int(rel[i]-'0')
			i++
		}
		if i == start {
			return false
		}
		if n == 0 {
			if i == len(rel) || rel[i] != '.' {
				return false
			}
			i++
		}
	}
	return nums[0] > major || nums[0] == major && nums[1] >= minor
}
