//! The shared mapping and what each process keeps beside it.
//!
//! ```text
//!   mapping (MAP_SHARED, inherited by fork):  Header | Lane x lanes | Slot<T> x (lanes * capacity)
//!   each process, private:                    Region: where those are, the Geometry, the fds,
//!                                             the lane this process sends into
//! ```
//!
//! Everything in the mapping is written by processes that are not trusted (see the module
//! docs of `shared`): the consumer reads it only through atomics and checks every position
//! it reads against its own [`Geometry`]. The offsets, the number of lanes and the geometry
//! live in each process's private memory, copied by `fork`, so no write into the mapping can
//! move an index out of bounds.

use std::alloc::Layout;
use std::io;
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::ring::{Geometry, Slot, MAX_CAPACITY};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize};
use crate::waker::{WakeFd, WakeFlag, WakeRef};

/// The most lanes a shared channel may have.
pub(crate) const MAX_LANES: usize = 4096;

/// The start of the mapping: the wake flag and the counters of sends that found no lane.
#[repr(C)]
pub(crate) struct Header {
    /// The wake protocol's flag (`waker`), shared by every process.
    pub(crate) wake: WakeFlag,
    /// `try_send` calls rejected because every lane was owned by another process.
    pub(crate) no_lane: AtomicU64,
}

/// One process's ring: its `tail`, who owns it, and its `Full` count. The lane's slots are
/// `capacity` consecutive slots after the lanes; its `head` is the consumer's, private.
#[repr(C)]
pub(crate) struct Lane {
    /// The ring's `tail` (with the mark bit: "closed"), as in `ring`.
    pub(crate) tail: AtomicUsize,
    /// The pid of the process that sends into this lane; 0 while free. Set by that process
    /// (`0 -> pid` by CAS, on its first send); cleared by the consumer once the process is
    /// gone and its lane drained.
    pub(crate) owner: AtomicU32,
    /// `try_send` calls into this lane rejected with `Full`.
    pub(crate) full: AtomicU64,
}

/// A mapping laid out for `lanes` lanes of `capacity` slots of `T`, and each process's
/// private knowledge of it.
pub(crate) struct Region<T> {
    /// The start of the mapping.
    base: NonNull<u8>,
    layout: Layout,
    /// Byte offsets of the lanes and of the slots from `base`.
    lanes_at: usize,
    slots_at: usize,
    lanes: usize,
    pub(crate) geo: Geometry,
    /// This process's descriptors of the wake-up fd (the consumer created them; a forked
    /// child holds copies).
    pub(crate) fd: WakeFd,
    /// The lane this process sends into, as `generation << 32 | (lane + 1)`, or 0; a value
    /// with another fork generation was inherited from the parent and is not ours (see
    /// `Sender`).
    pub(crate) my_lane: AtomicU64,
    _values: std::marker::PhantomData<T>,
}

// SAFETY: the region is a set of atomics and slots that hand `T` values between threads
// (and processes) under the ring protocol, like a boxed channel; with `T: Send` it may be
// used from any thread.
unsafe impl<T: Send> Send for Region<T> {}
// SAFETY: as above: every shared access goes through atomics or the slot protocol.
unsafe impl<T: Send> Sync for Region<T> {}

impl<T> Region<T> {
    /// Maps and initializes a region: every lane free and empty, the wake flag `IDLE`.
    ///
    /// Errors: `InvalidInput` for 0 or too many lanes, a capacity of 0 or one whose
    /// mapping could not be addressed; the OS error if the mapping cannot be made.
    pub(crate) fn new(lanes: usize, capacity: usize) -> io::Result<Self> {
        if lanes == 0 || lanes > MAX_LANES {
            return Err(invalid(format!(
                "sigring: a shared channel needs 1 to {MAX_LANES} lanes, not {lanes}"
            )));
        }
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(invalid(format!(
                "sigring: capacity {capacity} is not in 1 ..= {MAX_CAPACITY}"
            )));
        }
        let (layout, lanes_at, slots_at) = Self::layout(lanes, capacity).ok_or_else(|| {
            invalid(format!(
                "sigring: {lanes} lanes of capacity {capacity} are too large to map"
            ))
        })?;
        let base = map(layout)?;
        let region = Region {
            base,
            layout,
            lanes_at,
            slots_at,
            lanes,
            geo: Geometry::new(capacity),
            fd: WakeFd::new(),
            my_lane: AtomicU64::new(0),
            _values: std::marker::PhantomData,
        };
        // The mapping comes zero-filled (`mmap` of anonymous memory; `alloc_zeroed` for the
        // heap stand-in), and all-zero bytes are exactly the initial state of everything in
        // it: the wake flag `IDLE` (0) with no tokens written, no send without a lane, every
        // lane free (owner 0) at position 0 with no rejection, every slot's stamp lap 0
        // ("empty") with no value. So nothing is written, and no byte of the mapping (padding
        // included) is ever undefined. Loom's atomics are model objects, which must be
        // constructed.
        #[cfg(sigring_loom)]
        // SAFETY: `base` is a fresh allocation of `layout.size()` bytes, aligned to
        // `layout.align()`, and the offsets come from the same layout: each write below
        // stays inside it, at the alignment of its type.
        unsafe {
            region.base.as_ptr().cast::<Header>().write(Header {
                wake: WakeFlag::new(),
                no_lane: AtomicU64::new(0),
            });
            let lanes_ptr = region.lanes_ptr();
            for i in 0..lanes {
                lanes_ptr.add(i).write(CachePadded::new(Lane {
                    tail: AtomicUsize::new(0),
                    owner: AtomicU32::new(0),
                    full: AtomicU64::new(0),
                }));
            }
            let slots_ptr = region.slots_ptr();
            for i in 0..lanes * capacity {
                slots_ptr.add(i).write(Slot::new());
            }
        }
        Ok(region)
    }

    /// The layout of the mapping and the offsets of the lanes and slots; `None` if it could
    /// not be addressed.
    fn layout(lanes: usize, capacity: usize) -> Option<(Layout, usize, usize)> {
        let header = Layout::new::<Header>();
        let (with_lanes, lanes_at) = header
            .extend(Layout::array::<CachePadded<Lane>>(lanes).ok()?)
            .ok()?;
        let (all, slots_at) = with_lanes
            .extend(Layout::array::<Slot<T>>(lanes.checked_mul(capacity)?).ok()?)
            .ok()?;
        Some((all.pad_to_align(), lanes_at, slots_at))
    }

    fn lanes_ptr(&self) -> *mut CachePadded<Lane> {
        // SAFETY: `lanes_at` is inside the mapping (from `layout`).
        unsafe { self.base.as_ptr().add(self.lanes_at).cast() }
    }

    fn slots_ptr(&self) -> *mut Slot<T> {
        // SAFETY: `slots_at` is inside the mapping (from `layout`).
        unsafe { self.base.as_ptr().add(self.slots_at).cast() }
    }

    /// The header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: initialized in `new`, mapped for as long as `self` lives, and only ever
        // accessed through its atomics.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    /// The mapping's start and length.
    pub(crate) fn mapping(&self) -> (*mut u8, usize) {
        (self.base.as_ptr(), self.layout.size())
    }

    /// How many lanes there are.
    pub(crate) fn lanes(&self) -> usize {
        self.lanes
    }

    /// Lane `i`, if there is one.
    #[inline]
    pub(crate) fn lane(&self, i: usize) -> Option<&Lane> {
        if i >= self.lanes {
            return None;
        }
        // SAFETY: `i < lanes`: inside the lane array, initialized in `new`, mapped for as
        // long as `self` lives; every field is an atomic.
        Some(unsafe { &*self.lanes_ptr().add(i) })
    }

    /// Lane `i`'s slots (`capacity` of them), or none for a lane that does not exist.
    #[inline]
    pub(crate) fn slots(&self, i: usize) -> &[Slot<T>] {
        if i >= self.lanes {
            return &[];
        }
        let cap = self.geo.capacity();
        // SAFETY: lane `i`'s slots are `cap` initialized slots from `i * cap`, inside the
        // mapping (`layout` made room for `lanes * cap`); slots are only accessed through
        // their stamp (an atomic) and the ring protocol.
        unsafe { std::slice::from_raw_parts(self.slots_ptr().add(i.wrapping_mul(cap)), cap) }
    }

    /// The wake protocol on the shared flag with this process's descriptors.
    #[inline]
    pub(crate) fn wake(&self) -> WakeRef<'_> {
        WakeRef::new(&self.header().wake, &self.fd)
    }
}

impl<T> Drop for Region<T> {
    fn drop(&mut self) {
        // Nothing in the mapping needs dropping in production (atomics, and `T: Pod`
        // values). Loom's atomics do: they are model objects.
        #[cfg(sigring_loom)]
        // SAFETY: initialized in `new` and never used again.
        unsafe {
            std::ptr::drop_in_place(self.base.as_ptr().cast::<Header>());
            for i in 0..self.lanes {
                std::ptr::drop_in_place(self.lanes_ptr().add(i));
            }
            for i in 0..self.lanes * self.geo.capacity() {
                std::ptr::drop_in_place(self.slots_ptr().add(i));
            }
        }
        // SAFETY: `base` and `layout` are what `map` returned; the mapping is not used
        // after this (every reference into it borrows `self`).
        unsafe { unmap(self.base, self.layout) };
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A shared anonymous mapping of `layout.size()` bytes: every process forked from this one
/// sees the same memory.
#[cfg(not(any(sigring_loom, miri)))]
fn map(layout: Layout) -> io::Result<NonNull<u8>> {
    // SAFETY: a new anonymous mapping; no existing memory is touched. `layout.size()` is
    // never 0 (the header has a size).
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            layout.size(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(p.cast()).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
}

/// # Safety
///
/// `base` and `layout` come from one call of [`map`], and the mapping is no longer used.
#[cfg(not(any(sigring_loom, miri)))]
unsafe fn unmap(base: NonNull<u8>, layout: Layout) {
    // SAFETY: forwarded from the caller.
    unsafe { libc::munmap(base.as_ptr().cast(), layout.size()) };
}

/// Under loom and miri (no fork, no shared mappings): the heap stands in for the mapping.
#[cfg(any(sigring_loom, miri))]
fn map(layout: Layout) -> io::Result<NonNull<u8>> {
    // SAFETY: `layout` has a non-zero size (the header).
    NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })
        .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
}

/// # Safety
///
/// As for the mapping version.
#[cfg(any(sigring_loom, miri))]
unsafe fn unmap(base: NonNull<u8>, layout: Layout) {
    // SAFETY: allocated by `map` with this layout.
    unsafe { std::alloc::dealloc(base.as_ptr(), layout) };
}
