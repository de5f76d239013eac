package groupsync

import "golang.org/x/sys/unix"

// syncFileSystems writes back, with one syncfs per file system, the data
// of every file in group. Its errors are not reported: each file's own
// fsync, which follows, reports what became of that file.
func syncFileSystems(group []*waiter) {
	seen := make(map[uint64]bool, 1)
	for _, w := range group {
		var st unix.Stat_t
		fd := int(w.f.Fd())
		if err := unix.Fstat(fd, &st); err != nil || seen[st.Dev] {
			continue
		}
		seen[st.Dev] = true
		unix.Syncfs(fd)
	}
}
