//! The in-memory replay guard's memory bound, measured: 1,000,000 live claims fit in 64 MiB.
//!
//! A counting global allocator measures the bytes the guard holds (its own binary, so no
//! other test's allocations are counted).

// A global allocator is `unsafe` to implement; this one only counts and delegates.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use dingtalk_login::store::MemoryReplayGuard;
use dingtalk_login::AuthCode;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Held by every test here: the counter is process-wide, so a test running beside the
/// measurement would add (or free) bytes the guard does not hold.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn a_million_live_claims_fit_in_64_mib() {
    let _serial = serial();
    let guard = MemoryReplayGuard::new();
    let before = LIVE.load(Ordering::Relaxed);
    let mut peak = 0;
    for i in 0..1_000_000u32 {
        let code = AuthCode::parse(&format!("code{i:027}")).unwrap();
        guard.claim_now(&code).unwrap();
        if i % 65_536 == 0 {
            peak = peak.max(LIVE.load(Ordering::Relaxed) - before);
        }
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    peak = peak.max(held);
    assert_eq!(guard.len(), 1_000_000);
    eprintln!(
        "replay guard: {:.1} MiB for 1,000,000 claims (peak {:.1} MiB)",
        held as f64 / 1048576.0,
        peak as f64 / 1048576.0
    );
    assert!(held <= 64 << 20, "{held} bytes");
}

#[test]
fn a_full_guard_stays_at_its_capacity() {
    let _serial = serial();
    let guard = MemoryReplayGuard::new().capacity(1000);
    for i in 0..5000u32 {
        guard
            .claim_now(&AuthCode::parse(&format!("c{i}")).unwrap())
            .unwrap();
    }
    assert_eq!(guard.len(), 1000);
}
