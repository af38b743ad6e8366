"""The deliberate breakages that show the loom models have teeth (see `run`).

Each mutation: id, what it breaks, and (file, old, new) edits; `old` must occur exactly
once in `file`. Applied only to a scratch copy of the tree, never to the checkout.

    python3 mutations.py ROOT ID    # apply mutation ID to the tree at ROOT
    python3 mutations.py --list     # print the ids and what they break
"""
import sys

M = [
 ("M1", "pop: Relaxed instead of Acquire on the consumer's stamp load",
  [("src/ring.rs", "        // Acquire: pairs with the producer's publishing Release.\n        let stamp = slot.stamp.load(Ordering::Acquire);",
                   "        // Acquire: pairs with the producer's publishing Release.\n        let stamp = slot.stamp.load(Ordering::Relaxed);")]),
 ("M2", "push: Relaxed instead of Release on the publishing stamp store",
  [("src/ring.rs", "slot.stamp.store(tail + 1, Ordering::Release);", "slot.stamp.store(tail + 1, Ordering::Relaxed);")]),
 ("M3a", "prepare_wait re-check: sync_tail's RMW replaced by a plain Relaxed load",
  [("src/ring.rs", "let tail = self.tail.fetch_add(0, Ordering::AcqRel);", "let tail = self.tail.load(Ordering::Relaxed);")]),
 ("M3b", "prepare_wait re-check: sync_tail's RMW replaced by a plain Acquire load",
  [("src/ring.rs", "let tail = self.tail.fetch_add(0, Ordering::AcqRel);", "let tail = self.tail.load(Ordering::Acquire);")]),
 ("M3c", "prepare_wait: the sync_tail re-check removed (claimed=false, closed from a plain load)",
  [("src/channel.rs", "        let tail = self.shared.ring.sync_tail();\n",
    "        let tail = crate::ring::TailSnapshot { claimed: false, closed: self.shared.ring.is_closed() };\n")]),
 ("M4a", "arm: SIGNALED -> ARMED not done after reading the token (no re-arming)",
  [("src/waker/mod.rs", "if on_fd!(&self.fd, b => b.consume()) {\n                    self.state.store(ARMED, Ordering::Relaxed);",
                        "if on_fd!(&self.fd, b => b.consume()) {\n                    // mutant: no re-arm")]),
 ("M4b", "arm: IDLE -> ARMED skipped",
  [("src/waker/mod.rs", "IDLE => self.state.store(ARMED, Ordering::Relaxed),", "IDLE => {}")]),
 ("M4c", "prepare_wait: wake.arm() not called at all",
  [("src/channel.rs", "    fn prepare_wait(&self) -> Ready<T> {\n        self.shared.wake.arm();\n", "    fn prepare_wait(&self) -> Ready<T> {\n")]),
 ("M5a", "notify: every producer writes a token (no flag check, no CAS)",
  [("src/waker/mod.rs", "        if self.state.load(Ordering::Relaxed) == ARMED {\n            self.signal_cold();\n        }",
    "        self.state.store(SIGNALED, Ordering::Release);\n        self.writes.fetch_add(1, Ordering::Relaxed);\n        on_fd!(&self.fd, b => b.signal());")]),
 ("M5b", "signal: ARMED -> SIGNALED by load + store instead of CAS (racing producers both write)",
  [("src/waker/mod.rs", "        if self\n            .state\n            .compare_exchange(ARMED, SIGNALED, Ordering::AcqRel, Ordering::Relaxed)\n            .is_ok()\n        {",
    "        if self.state.load(Ordering::Acquire) == ARMED && {\n            self.state.store(SIGNALED, Ordering::Release);\n            true\n        } {")]),
 ("M6", "push: the mark-bit (closed) check dropped",
  [("src/ring.rs", "            if tail & self.mark_bit != 0 {\n                return Err(PushError::Closed(value));\n            }\n", "")]),
 ("M7", "try_recv: Busy handled as Empty without signal_self",
  [("src/channel.rs", "                self.shared.wake.signal_self();\n                Err(TryRecvError::Empty)", "                Err(TryRecvError::Empty)")]),
 ("M8", "push: the Full path retries forever (spins) instead of returning Full",
  [("src/ring.rs", "                if current == tail {\n                    return Err(PushError::Full(value));\n                }", "                if current == tail {\n                    continue;\n                }")]),
 ("M9", "push: Relaxed instead of Acquire on the producer's stamp load (slot reuse)",
  [("src/ring.rs", "            let stamp = slot.stamp.load(Ordering::Acquire);\n            if stamp == tail {", "            let stamp = slot.stamp.load(Ordering::Relaxed);\n            if stamp == tail {")]),
 ("M10", "pop: Relaxed instead of Release on the store that frees the slot",
  [("src/ring.rs", ".store(head.wrapping_add(self.one_lap), Ordering::Release);", ".store(head.wrapping_add(self.one_lap), Ordering::Relaxed);")]),
 ("M11", "push: the claim CAS is Relaxed instead of AcqRel",
  [("src/ring.rs", "                    Ordering::AcqRel,\n                    Ordering::Relaxed,\n                ) {", "                    Ordering::Relaxed,\n                    Ordering::Relaxed,\n                ) {")]),
 ("M12", "recv_timeout: on expiry the value that just landed is dropped instead of returned",
  [("src/channel.rs", "                        return self.pop().ok_or(RecvTimeoutError::Timeout);\n                    }\n                    self.wakeups",
    "                        drop(self.pop());\n                        return Err(RecvTimeoutError::Timeout);\n                    }\n                    self.wakeups")]),
 ("M13", "Ring::drop leaks what is left in the ring",
  [("src/ring.rs", "        while let Some(value) = unsafe { self.pop() } {\n            drop(value);\n        }\n    }\n}", "        let _ = self;\n    }\n}")]),
 ("M14", "Sender::drop: the last sender closes but does not notify",
  [("src/channel.rs", "            self.shared.ring.close();\n            self.shared.wake.notify();\n        }", "            self.shared.ring.close();\n        }")]),
 ("M15", "disarm: plain store IDLE instead of CAS ARMED -> IDLE",
  [("src/waker/mod.rs", "        let _ = self\n            .state\n            .compare_exchange(ARMED, IDLE, Ordering::Relaxed, Ordering::Relaxed);", "        self.state.store(IDLE, Ordering::Relaxed);")]),
]


def apply(root, mid):
    for m in M:
        if m[0] == mid:
            for f, old, new in m[2]:
                path = root + "/" + f
                with open(path) as fh:
                    text = fh.read()
                n = text.count(old)
                if n != 1:
                    sys.exit(f"{mid}: the pattern occurs {n} times in {f} (the code moved?)")
                with open(path, "w") as fh:
                    fh.write(text.replace(old, new))
            return m[1]
    sys.exit("unknown mutation " + mid)


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for m in M:
            print(f"{m[0]}\t{m[1]}")
    elif len(sys.argv) == 3:
        print(apply(sys.argv[1], sys.argv[2]))
    else:
        sys.exit(__doc__)
