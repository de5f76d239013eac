package groupsync

import "golang.org/x/sys/unix"

// fileKey tells one file from another.
type fileKey struct{ dev, ino uint64 }

// syncFileSystems writes back, with one syncfs per file system, the data
// of every file in group, and gives the waiters of one file one fsync to
// share. Its errors are not reported: each file's own fsync, which
// follows, reports what became of that file.
func syncFileSystems(group []*waiter) {
	synced := make(map[uint64]bool, 1)
	files := make(map[fileKey]*sharedSync, len(group))
	for _, w := range group {
		var st unix.Stat_t
		fd := int(w.f.Fd())
		if err := unix.Fstat(fd, &st); err != nil {
			continue
		}
		k := fileKey{uint64(st.Dev), st.Ino}
		if files[k] == nil {
			files[k] = &sharedSync{}
		}
		w.same = files[k]
		if !synced[k.dev] {
			synced[k.dev] = true
			unix.Syncfs(fd)
		}
	}
}
