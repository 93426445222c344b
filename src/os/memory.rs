//! Giving memory back after a burst. A session's start (the full listing, the folder scan, the
//! hash cache, a first sync's transfers) allocates far more than the idle engine keeps; glibc's
//! malloc holds on to freed pages, so without this the idle engine's resident memory stays at
//! the start's peak (docs/benchmarks.md, footprint: 18.8 MB anonymous with 10,000 files, 12.2 MB
//! after a trim).

/// Returns the allocator's free pages to the operating system, where that needs asking, and
/// logs what the allocator still holds: in use by the engine, and free but kept (the holes
/// between live blocks that no trim can return).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim and mallinfo2 only walk glibc's own arenas under their locks;
        // they take no pointers and are safe to call from any thread at any time.
        let info = unsafe {
            libc::malloc_trim(0);
            libc::mallinfo2()
        };
        log::info!(
            "Memory after giving back: {} KB in use, {} KB free in the allocator's arenas",
            (info.uordblks + info.hblkhd) / 1000,
            info.fordblks / 1000
        );
    }
}
