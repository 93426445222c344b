//! Giving memory back after a burst. A session's start (the full listing, the folder scan, the
//! hash cache, a first sync's transfers) allocates far more than the idle engine keeps; glibc's
//! malloc holds on to freed pages, so without this the idle engine's resident memory stays at
//! the start's peak (docs/benchmarks.md, footprint: 18.8 MB anonymous with 10,000 files, 12.2 MB
//! after a trim).

/// Returns the allocator's free pages to the operating system, where that needs asking.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no
        // pointers and is safe to call from any thread at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
