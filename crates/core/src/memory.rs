//! Giving freed memory back to the system after a burst.
//!
//! A flood of gateway events is held, briefly, in thousands of small allocations
//! (serenity's task per event, then the answer writer's queue). Once they are freed
//! glibc's malloc keeps most of those pages resident for reuse, spread over its
//! per-thread arenas, so a bot that took one burst of 20,000 answers stayed at
//! 100-200 MB for good. [`release_free_memory`] asks malloc to return what is free
//! (`malloc_trim`, which also releases whole free pages inside its heaps); the
//! answer writer calls it once a large burst has been written and its queue is
//! empty, and the scheduler after a pass that posted or revealed hundreds of drops,
//! each off the async workers. Elsewhere (musl, other systems) it does nothing.

/// Returns freed heap pages to the system where the allocator supports it.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and only releases memory that is
        // free; it is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
