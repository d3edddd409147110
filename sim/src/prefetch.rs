//! Cache hints for the event loop's read-ahead and the queue's slot tails: the one place in the
//! workspace where unsafe code is allowed. A prefetch asks the CPU to start bringing a line into
//! the cache and goes on at once; unlike a load, it never waits for the data and never holds up
//! the instructions after it. It reads and writes nothing the program can see, cannot fault (not
//! even on a bad address, and every address here comes from a reference), and so cannot change
//! a run.

#![allow(unsafe_code)]

/// Starts bringing the cache line holding the start of `value` into the nearest cache.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    prefetch_address((value as *const T).cast::<u8>());
}

/// Starts bringing the `lines` cache lines from the start of `value` into the nearest cache
/// (those it spans at most).
#[inline(always)]
pub(crate) fn prefetch_lines<T>(value: &T, lines: usize) {
    let start = (value as *const T).cast::<u8>();
    let lines = lines.min(size_of::<T>().div_ceil(64));
    for i in 0..lines {
        prefetch_address(start.wrapping_add(i * 64));
    }
}

#[inline(always)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it cannot fault, reads nothing into the program and writes
    // nothing; any address is allowed. SSE is part of every x86_64 target.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast::<i8>());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: `prfm` is a hint like the above (its intrinsic is not stable yet): it cannot fault
    // and writes nothing (`readonly`: clippy rightly refuses `nomem` for an asm given a pointer).
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{0}]", in(reg) address, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = address;
}
