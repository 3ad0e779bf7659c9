//! How the binaries that allocate with mimalloc (tfec, bench) keep freed memory.

/// mimalloc's number for its `purge_delay` option (`mi_option_purge_delay` in mimalloc.h).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Keeps freed memory for reuse instead of giving it back to the kernel a second after it is
/// freed (mimalloc's default), unless `MIMALLOC_PURGE_DELAY` says otherwise. A batch of network
/// C takes more than a second, so its buffers went back between batches and every batch faulted
/// some 64,000 pages in afresh and the kernel zeroed them: without that, 1,500 page faults in a
/// whole run of 4 batches instead of 234,000, at 14% more peak memory (1.65 against 1.44 GB).
/// Call it first thing in `main` of a binary whose global allocator is mimalloc (with another
/// allocator it only sets an unused option).
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code, reason = "a call into mimalloc's C API")]
        // SAFETY: `mi_option_set` stores one integer option; -1 means never purge.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}
