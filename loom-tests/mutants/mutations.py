r"""The deliberate breakages that show the loom models have teeth (see `run`).

Each mutation: id, what it breaks, and (file, old, new) edits, applied in order. Applied
only to a scratch copy of the tree or in memory, never to the checkout.

    python3 mutations.py ROOT ID       # apply mutation ID to the tree at ROOT (used by `run`)
    python3 mutations.py --check ROOT  # every mutation applies to ROOT? (in memory; CI runs it)
    python3 mutations.py --check ROOT ID...   # some of them
    python3 mutations.py --list        # print the ids and what they break

How `old` is found: modulo layout, so reflowing or re-indenting the code does not lose a
mutation. Whitespace at either end of `old` is ignored; inside it, whitespace matters only
between two identifier characters (`let tail` needs some whitespace there, `a.b(c)` also
matches `a\n    .b( c )`), and any run of it matches any other run. The pattern must then
occur exactly once in the file, or the mutation fails to apply, naming the file and the
count. The span that matched, exactly as it is in the file, is replaced by `new` (minus
whatever whitespace `new` shares with `old`'s two ends, so the surrounding layout stays).

Keep patterns to code, not comments: a reworded comment should not lose a mutation. When
the code itself changes, `--check` (the `mutants-apply` stage of .ci/verify, seconds) names
every mutation that no longer applies; `run` checks the same before its long loop.
"""
import os
import re
import subprocess
import sys

NL = "\n"

M = [
 ("M1", "pop: Relaxed instead of Acquire on the consumer's stamp load",
  [("src/ring.rs", "let stamp = slot.stamp.load(Ordering::Acquire);\n        if stamp != lap.wrapping_add(1) {",
                   "let stamp = slot.stamp.load(Ordering::Relaxed);\n        if stamp != lap.wrapping_add(1) {")]),
 ("M2", "push: Relaxed instead of Release on the publishing stamp store",
  [("src/ring.rs", "slot.stamp.store(lap.wrapping_add(1), Ordering::Release);", "slot.stamp.store(lap.wrapping_add(1), Ordering::Relaxed);")]),
 ("M3a", "prepare_wait re-check: rmw_tail's RMW replaced by a plain Relaxed load",
  [("src/ring.rs", "let tail = self.tail.fetch_add(0, Ordering::AcqRel);", "let tail = self.tail.load(Ordering::Relaxed);")]),
 ("M3b", "prepare_wait re-check: rmw_tail's RMW replaced by a plain Acquire load",
  [("src/ring.rs", "let tail = self.tail.fetch_add(0, Ordering::AcqRel);", "let tail = self.tail.load(Ordering::Acquire);")]),
 ("M3c", "prepare_wait: the rmw_tail re-check removed (claimed=false, closed from a plain load)",
  [("src/channel.rs", "let tail = self.chan.ring.rmw_tail();\n        if let Some(value) = self.pop() {",
    "let tail = crate::ring::TailSnapshot { claimed: false, closed: self.chan.ring.is_closed() };\n        if let Some(value) = self.pop() {")]),
 ("M4a", "arm: POSTED -> ARMED (or PARKED) not done after reading the token (no re-arming)",
  [("src/waker/mod.rs", "if !self.fd.consume() {\n                        return Armed {\n                            was_armed: false,\n                            sleep: Sleep::Fd,\n                        };\n                    }\n                    self.flag.state.store(target, Ordering::Release);",
                        "if !self.fd.consume() {\n                        return Armed {\n                            was_armed: false,\n                            sleep: Sleep::Fd,\n                        };\n                    }")]),
 ("M4b", "arm: IDLE -> ARMED (or PARKED) skipped",
  [("src/waker/mod.rs", "IDLE => self.flag.state.store(target, Ordering::Release),", "IDLE => {}")]),
 ("M4c", "prepare_wait: wake.arm() not called at all",
  [("src/channel.rs", "let Armed { was_armed, sleep } = self.wake().arm(sleep);", "let (was_armed, sleep) = (false, sleep);")]),
 ("M5a", "notify: every producer writes a token (no flag check, no CAS)",
  [("src/waker/mod.rs", "let state = self.flag.state.load(Ordering::Relaxed);\n        if state & MAY_SLEEP != 0 {\n            self.wake_cold(state);\n        }",
    "self.flag.state.store(POSTED, Ordering::Release);\n        self.flag.writes.fetch_add(1, Ordering::Relaxed);\n        self.fd.post();")]),
 ("M5b", "wake: ARMED -> POSTED (PARKED -> IDLE) by load + store instead of CAS (racing producers both write)",
  [("src/waker/mod.rs", "match self.flag.state.compare_exchange(state, next, Ordering::AcqRel, Ordering::Relaxed) {",
    "match if self.flag.state.load(Ordering::Acquire) == state {\n                self.flag.state.store(next, Ordering::Release);\n                Ok(state)\n            } else {\n                Err(self.flag.state.load(Ordering::Relaxed))\n            } {")]),
 ("M6", "push: the mark-bit (closed) check dropped",
  [("src/ring.rs", "if tail & self.mark_bit != 0 {\n                return Err(PushError::Closed(()));\n            }", "")]),
 ("M7", "try_recv: Busy handled as Empty without post_self",
  [("src/wait.rs", "c.wake().post_self();\n                Err(TryRecvError::Empty)", "Err(TryRecvError::Empty)")]),
 ("M8", "push: the Full path retries forever (spins) instead of returning Full",
  [("src/ring.rs", "if current == tail {\n                    return Err(PushError::Full(()));\n                }", "if current == tail {\n                    continue;\n                }")]),
 ("M9", "push: Relaxed instead of Acquire on the producer's stamp load (slot reuse)",
  [("src/ring.rs", "let stamp = slot.stamp.load(Ordering::Acquire);\n            if stamp == lap {", "let stamp = slot.stamp.load(Ordering::Relaxed);\n            if stamp == lap {")]),
 ("M10", "pop: Relaxed instead of Release on the store that frees the slot",
  [("src/ring.rs", ".store(lap.wrapping_add(self.one_lap), Ordering::Release);", ".store(lap.wrapping_add(self.one_lap), Ordering::Relaxed);")]),
 ("M11", "push: the claim CAS is Relaxed instead of AcqRel",
  [("src/ring.rs", "self.next(tail),\n                    Ordering::AcqRel,\n                    Ordering::Relaxed,", "self.next(tail),\n                    Ordering::Relaxed,\n                    Ordering::Relaxed,")]),
 ("M12", "recv_timeout: on expiry the value that just landed is dropped instead of returned",
  [("src/wait.rs", "Ok(value) => Ok(value),\n            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),",
    "Ok(value) => {\n                drop(value);\n                Err(RecvTimeoutError::Timeout)\n            }\n            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),")]),
 ("M13", "drain leaks what is left in the ring",
  [("src/ring.rs", "while let Some(value) = unsafe { self.pop(slots) } {\n            drop(value);\n        }", "let _ = slots;")]),
 ("M14", "Sender drop: the last sender closes but does not notify",
  [("src/channel.rs", "self.ring.close();\n            self.wake.get().notify();", "self.ring.close();")]),
 ("M15", "disarm: plain store IDLE instead of CAS ARMED -> IDLE",
  [("src/waker/mod.rs", "let _ = self\n            .flag\n            .state\n            .compare_exchange(armed, IDLE, Ordering::Relaxed, Ordering::Relaxed);", "let _ = armed;\n        self.flag.state.store(IDLE, Ordering::Relaxed);")]),
 ("M16", "send: no re-check of the ring after registering (sleeps on a Full seen before registering)",
  [("src/wait.rs", "if cap.saturating_sub(len()) >= half(cap) {\n                value = match push(value) {\n                    Ok(()) => {\n                        self.registered.fetch_sub(1, Ordering::Relaxed);\n                        return Ok(());\n                    }\n                    Err(PushError::Closed(value)) => {\n                        self.registered.fetch_sub(1, Ordering::Relaxed);\n                        return Err(SendTimeoutError::Disconnected(value));\n                    }\n                    Err(PushError::Full(value)) => value,\n                };\n            } else if closed() {\n                self.registered.fetch_sub(1, Ordering::Relaxed);\n                return Err(SendTimeoutError::Disconnected(value));\n            }",
    "let _ = (&len, &closed);")]),
 ("M17", "send-wait: the consumer's side of the barrier removed (store-load reordering after freeing a slot)",
  [("src/wait.rs", "Barrier::light();\n        if self.registered.load(Ordering::Relaxed) != 0 {\n            self.freed_while_waited(cap, len);", "if self.registered.load(Ordering::Relaxed) != 0 {\n            self.freed_while_waited(cap, len);")]),
 ("M18", "send-wait: the sender's side of the barrier removed",
  [("src/wait.rs", "if others == 0 {", "if others == usize::MAX {")]),
 ("M19", "send-wait: a freed slot never starts a wake-up (only an empty ring or the receiver's drop do)",
  [("src/wait.rs", "if cap.saturating_sub(len()) >= half(cap) {\n            self.wake_one();\n        }", "let _ = len;")]),
 ("M20", "receiver drop: blocked senders are not woken",
  [("src/channel.rs", "self.ring.close();\n        self.wake.get().gone();\n        self.send_wait.wake_if_waiting();", "self.ring.close();\n        self.wake.get().gone();")]),
 ("M21", "clear_stray_token re-arms without reading the fd (the stray token stays)",
  [("src/waker/mod.rs", "let _ = self.fd.consume();\n            self.flag.state.store(ARMED, Ordering::Release);", "self.flag.state.store(ARMED, Ordering::Release);")]),
 ("M22", "try_recv: after clearing a stray token, Empty without looking at the ring again",
  [("src/wait.rs", "c.wake().clear_stray_token();\n                // Look again: a value published while the flag was taken wrote no token.\n                self.ready_now(c, c.prepare_wait(Sleep::Fd))",
    "c.wake().clear_stray_token();\n                Err(TryRecvError::Empty)")]),
 ("M23", "shared recovery: a dead sender's slot is skipped without looking at it again (it may have published just before dying)",
  [("src/shared/consumer.rs", "if self.region.geo.ready(self.region.slots(i), head) {\n                skipped = true;\n                continue;\n            }", "")]),
 ("M24", "shared sweep: a dead sender's lane is freed without re-reading its tail (a stale look said drained)",
  [("src/shared/consumer.rs", "if tail == cursor.head.get() {", "if tail == tail {")]),
 ("M25", "shared recovery: a claimed slot is skipped without asking whether its process lives",
  [("src/shared/consumer.rs", "if owner != 0 && (self.alive)(owner) {", "if owner != 0 && false {")]),
 ("M26", "send-wait: the consumer's request while a woken sender holds the baton is dropped (no `owed`)",
  [("src/wait.rs", "Baton::Held => w.owed = true,", "Baton::Held => {}")]),
 ("M27", "send-wait: the holder hands the wake-up on only when asked (`owed`), not when half the ring is still free",
  [("src/wait.rs", "let wanted = closed || w.owed || room >= half(cap);", "let wanted = closed || w.owed;\n        let _ = room;")]),
 ("M28", "send-wait: a woken sender that finds the ring closed wakes nobody (no broadcast)",
  [("src/wait.rs", "let wanted = closed || w.owed || room >= half(cap);", "let wanted = !closed && (w.owed || room >= half(cap));")]),
 ("M29", "send-wait: the consumer starts a wake-up without signalling (no notify_one)",
  [("src/wait.rs", "Baton::Free => {\n                self.registered.fetch_sub(1, Ordering::Relaxed);\n                w.baton = Baton::Pending;\n                drop(w);\n                self.cond.notify_one();",
    "Baton::Free => {\n                self.registered.fetch_sub(1, Ordering::Relaxed);\n                w.baton = Baton::Pending;\n                drop(w);")]),
 ("M30", "receiver drop: the drain returns at a slot claimed before the close instead of waiting for it to be published",
  [("src/channel.rs", "if !self.ring.rmw_tail().claimed {\n                return;\n            }", "if true {\n                return;\n            }")]), ("M31", "notify: a producer wakes only a consumer armed for the fd (ARMED), not one parked on the flag",
  [("src/waker/mod.rs", "if state & MAY_SLEEP != 0 {\n            self.wake_cold(state);", "if state == ARMED {\n            self.wake_cold(state);")]),
 ("M32", "arm: the switch between ARMED and PARKED is a plain store, not a CAS (a producer's ARMED -> POSTED is overwritten)",
  [("src/waker/mod.rs", """if let Err(now) = self.flag.state.compare_exchange(
                        state,
                        target,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        state = now;
                        continue;
                    }""", """self.flag.state.store(target, Ordering::Release);""")]),
 ("M33", "a timed-out recv returns without arming the flag for the fd and looking again (it may stay PARKED, or IDLE after a wake-up at expiry)",
  [("src/wait.rs", "Err(RecvTimeoutError::Timeout) => self.timed_out(c),", "Err(RecvTimeoutError::Timeout) => Err(RecvTimeoutError::Timeout),")]),
]


def pattern(old):
    """The regex that finds `old` modulo layout (see the module docstring)."""
    core = old.strip()
    out = []
    prev = None  # last non-whitespace character emitted
    gap = False  # whitespace between `prev` and the current character
    for ch in core:
        if ch.isspace():
            gap = True
            continue
        if prev is not None:
            words = (prev.isalnum() or prev == "_") and (ch.isalnum() or ch == "_")
            if words:
                out.append(r"\s+" if gap else "")
            else:
                out.append(r"\s*")
        out.append(re.escape(ch))
        prev, gap = ch, False
    return re.compile("".join(out))


def edit(text, f, old, new):
    """`text` with the one occurrence of `old` replaced by `new`; raises ValueError naming
    the file, the count and where the pattern's first line does occur, if not exactly one."""
    found = list(pattern(old).finditer(text))
    if len(found) != 1:
        where = [f"{f}:{text.count(NL, 0, m.start()) + 1}" for m in found]
        msg = f"{f}: pattern found {len(found)} times" + (f" (at {', '.join(where)})" if where else "")
        first = old.strip().split(NL)[0].strip()
        hits = [text.count(NL, 0, m.start()) + 1 for m in pattern(first).finditer(text)]
        if not found and hits:
            msg += f"; its first line {first!r} is at line {', '.join(map(str, hits[:5]))}"
        elif not found:
            msg += f"; not even its first line {first!r} occurs (the code moved?)"
        raise ValueError(msg)
    lead = old[: len(old) - len(old.lstrip())]
    trail = old[len(old.rstrip()) :]
    if lead and new.startswith(lead):
        new = new[len(lead) :]
    if trail and new.endswith(trail):
        new = new[: -len(trail)]
    start, end = found[0].span()
    line = text.count("\n", 0, start) + 1
    if not new and "\n" in trail:
        # Removing whole lines: take their indentation and line end too.
        bol = text.rfind("\n", 0, start) + 1
        eol = text.find("\n", end)
        if not text[bol:start].strip() and eol >= 0 and not text[end:eol].strip():
            start, end = bol, eol + 1
    return text[:start] + new + text[end:], line


def mutate(read, mid):
    """Applies mutation `mid` to the files `read(path)` returns: ({path: new text}, what it
    breaks, ["file:line", ...] of each edit). Raises ValueError if it does not apply."""
    for m in M:
        if m[0] == mid:
            texts, lines = {}, []
            for f, old, new in m[2]:
                if f not in texts:
                    texts[f] = read(f)
                if pattern(old).fullmatch(new.strip()):
                    raise ValueError(f"{f}: the edit changes only layout")
                texts[f], line = edit(texts[f], f, old, new)
                lines.append(f"{f}:{line}")
            return texts, m[1], lines
    raise ValueError("unknown mutation " + mid)


def reader(root):
    """Reads files under `root`; in a git checkout, only tracked ones (`run` copies no other)."""
    tracked = None
    top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode == 0 and os.path.realpath(top.stdout.strip()) == os.path.realpath(root):
        files = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, text=True)
        tracked = set(files.stdout.split("\0")) if files.returncode == 0 else None

    def read(f):
        if tracked is not None and f not in tracked:
            raise ValueError(f"{f}: not tracked by git, so not in `run`'s scratch copy")
        try:
            with open(os.path.join(root, f)) as fh:
                return fh.read()
        except OSError as e:
            raise ValueError(f"{f}: {e.strerror}")
    return read


def apply(root, mid):
    """Applies mutation `mid` to the files under `root`, in place."""
    texts, what, _ = mutate(reader(root), mid)
    for f, text in texts.items():
        with open(os.path.join(root, f), "w") as fh:
            fh.write(text)
    return what


def check(root, wanted=()):
    """Applies every mutation (or those in `wanted`) in memory to the files under `root`;
    prints one line each, and returns 0 if all apply."""
    failed = []
    ids = [m[0] for m in M]
    for mid in sorted({i for i in ids if ids.count(i) > 1}):
        print(f"FAIL  {mid}: the id is used twice")
        failed.append(mid)
    read = reader(root)
    for mid in wanted or ids:
        try:
            _, _, lines = mutate(read, mid)
            print(f"ok    {mid:5} {' '.join(lines)}")
        except ValueError as e:
            print(f"FAIL  {mid:5} {e}")
            failed.append(mid)
    sys.stdout.flush()
    if failed:
        print(f"mutations: {len(failed)} of {len(wanted or ids)} do not apply: {' '.join(failed)}", file=sys.stderr)
        return 1
    print(f"mutations: all {len(wanted or ids)} apply, each pattern found exactly once")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--list"]:
        for m in M:
            print(f"{m[0]}\t{m[1]}")
    elif len(args) >= 2 and args[0] == "--check":
        sys.exit(check(args[1], args[2:]))
    elif len(args) == 2 and not args[0].startswith("-"):
        try:
            print(apply(args[0], args[1]))
        except ValueError as e:
            sys.exit(f"{args[1]}: {e}")
    else:
        sys.exit(__doc__)
