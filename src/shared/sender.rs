//! The sending half of a shared channel: every process sends into a lane of its own.

use std::fmt;

use crate::error::TrySendError;
use crate::process;
use crate::ring::PushError;
use crate::sync::{Arc, Ordering};

use super::region::{Lane, Region};

/// The sending half of a [shared channel](crate::shared): `Clone + Send + Sync`, usable in
/// every process forked from the one that created the channel, from ordinary code and from
/// signal handlers.
///
/// Each process sends into a lane of its own, claimed on its first send; a process that
/// dies in the middle of a send costs only its own unfinished value (see
/// [the module docs](crate::shared)).
///
/// # Async-signal safety
///
/// [`try_send`](Sender::try_send), [`capacity`](Sender::capacity),
/// [`lanes`](Sender::lanes) and [`clone`](Clone::clone) are async-signal-safe and
/// reentrant: no lock, no allocation, no waiting; `errno` is preserved. The first send of a
/// process adds one `getpid(2)`. Dropping a `Sender` is too, unless it is this process's
/// last handle of the channel (receiver included), which unmaps the memory and frees the
/// process's bookkeeping.
pub struct Sender<T> {
    pub(super) region: Arc<Region<T>>,
}

impl<T: bytemuck::Pod> Sender<T> {
    /// Sends `value` into this process's lane if it has room; never waits.
    ///
    /// Async-signal-safe and reentrant.
    ///
    /// # Errors
    ///
    /// * [`TrySendError::Full`] with the value when this process's lane is full, or when
    ///   every lane is owned by another live process (counted in
    ///   [`Receiver::full_rejections`](crate::Receiver::full_rejections));
    /// * [`TrySendError::Disconnected`] with the value once the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::shared::channel::<u64>(8)?;
    /// tx.try_send(7).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let region = &*self.region;
        let Some((lane, i)) = self.my_lane() else {
            region.header().no_lane.fetch_add(1, Ordering::Relaxed);
            return Err(TrySendError::Full(value));
        };
        match region.geo.push(&lane.tail, region.slots(i), value) {
            Ok(()) => {
                region.wake().notify();
                Ok(())
            }
            Err(PushError::Full(value)) => {
                lane.full.fetch_add(1, Ordering::Relaxed);
                Err(TrySendError::Full(value))
            }
            Err(PushError::Closed(value)) => Err(TrySendError::Disconnected(value)),
        }
    }
}

impl<T> Sender<T> {
    /// How many values one lane holds.
    pub fn capacity(&self) -> usize {
        self.region.geo.capacity()
    }

    /// How many lanes there are: how many processes can send at once.
    pub fn lanes(&self) -> usize {
        self.region.lanes()
    }

    /// This process's lane and its index, claimed on first use. Async-signal-safe.
    ///
    /// The choice is cached per process in the region (which `fork` copies), tagged with
    /// the fork generation (`process::generation`), so a child does not use its parent's
    /// lane. Two threads (or a thread and a handler) of one process claiming at once may
    /// both take a free lane; the one whose cache update loses gives its lane back.
    #[inline]
    fn my_lane(&self) -> Option<(&Lane, usize)> {
        let region = &*self.region;
        let generation = u64::from(process::generation());
        let cached = region.my_lane.load(Ordering::Acquire);
        if cached >> 32 == generation && cached as u32 != 0 {
            let i = (cached as u32 - 1) as usize;
            return region.lane(i).map(|lane| (lane, i));
        }
        self.claim_lane(generation, cached)
    }

    #[cold]
    fn claim_lane(&self, generation: u64, cached: u64) -> Option<(&Lane, usize)> {
        let region = &*self.region;
        let pid = process::pid();
        let i = (0..region.lanes()).find(|&i| {
            region.lane(i).is_some_and(|lane| {
                lane.owner.load(Ordering::Relaxed) == 0
                    && lane
                        .owner
                        .compare_exchange(0, pid, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
            })
        })?;
        let mine = generation << 32 | (i as u64 + 1);
        let mut current = cached;
        loop {
            match region.my_lane.compare_exchange(
                current,
                mine,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return region.lane(i).map(|lane| (lane, i)),
                Err(now) if now >> 32 == generation && now as u32 != 0 => {
                    // Another context of this process claimed first: use its lane, give
                    // ours back (nothing was sent into it).
                    if let Some(lane) = region.lane(i) {
                        lane.owner.store(0, Ordering::Release);
                    }
                    let j = (now as u32 - 1) as usize;
                    return region.lane(j).map(|lane| (lane, j));
                }
                // Another generation's choice (the parent's, inherited): not ours, replace
                // it. Only another context of this process changes the cache, and it would
                // write this generation: this retries at most once.
                Err(now) => current = now,
            }
        }
    }
}

impl<T> Sender<T> {
    /// Under loom: this model process claims a slot in its lane, as a send does, and dies
    /// before writing or publishing it (see `process::model`): a worker killed between
    /// claim and publish. `Err` says why no slot was claimed ("no lane", "full",
    /// "closed"); the process dies all the same.
    #[cfg(sigring_loom)]
    #[doc(hidden)]
    pub fn model_claim_and_die(&self) -> Result<(), &'static str> {
        let region = &*self.region;
        let claimed = match self.my_lane() {
            None => Err("no lane"),
            Some((lane, i)) => match region.geo.claim(&lane.tail, region.slots(i)) {
                Ok(_) => Ok(()),
                Err(PushError::Full(())) => Err("full"),
                Err(PushError::Closed(())) => Err("closed"),
            },
        };
        process::model::die();
        claimed
    }

    /// The shared mapping's address and length in this process, for tests that write over
    /// it on purpose (the consumer must survive that). Not part of the API.
    #[doc(hidden)]
    pub fn mapping_for_tests(&self) -> (*mut u8, usize) {
        self.region.mapping()
    }
}

impl<T> Clone for Sender<T> {
    /// Another handle. Async-signal-safe.
    fn clone(&self) -> Self {
        Sender {
            region: Arc::clone(&self.region),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("shared::Sender")
            .field("lanes", &self.region.lanes())
            .field("capacity", &self.region.geo.capacity())
            .finish_non_exhaustive()
    }
}

// A panic while a `Sender` is borrowed leaves the channel consistent: every operation is a
// single atomic step.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
