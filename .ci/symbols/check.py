#!/usr/bin/env python3
"""The signal-safety contract, checked on the machine code.

A signal handler may interrupt any instruction of its thread, including one inside
`malloc`, a locked mutex or a half-initialised thread-local. So code that runs in a handler
(and sigring promises this of `Sender::try_send` and the other "async-signal-safe" entry
points) may only call what cannot depend on the interrupted state: the async-signal-safe
functions POSIX lists (`write`, `getpid`, `clock_gettime`, `memcpy`, ...) and its own
lock-free code. It must not panic (the panic machinery allocates, takes locks and reads
thread-locals), allocate, lock, or touch a lazily initialised thread-local.

This script checks that on a built binary instead of on the source: for each entry point of
the probe (`probe/src/main.rs`, every function named `sigring_probe_*`, plus the functions
matched by `ENTRY_PATTERNS` below) it follows every call the machine code makes,
transitively, and fails if anything reachable is

* a forbidden function (`FORBIDDEN`: panics, allocation, locks, thread-local machinery),
* a function outside the binary (through the PLT or the GOT) not in `ALLOWED_EXTERNAL`,
* an indirect call (`call *%rax`) not in `ALLOWED_INDIRECT` for that entry point,
* an access to thread-local storage through `%fs` in code it follows.

What counts as a call: `call`, `jmp` and conditional jumps to another function (tail calls
included), calls through a GOT slot (resolved with the dynamic relocations), and every
function whose address the code takes (`lea`/`mov` of a function's address, or of a vtable
whose slots point at functions), since a pointer taken is a call that may happen. That
last rule is what follows `core::fmt::write`'s calls back into sigring's `fmt::Write` impl:
the vtable is taken where sigring builds the `&mut dyn Write`.

Two things are reported without failing: the null and alignment checks that debug
assertions put on raw-pointer dereferences (`REPORT_ONLY`: they fire only on undefined
behaviour, see FORBIDDEN), and calls into `_Unwind_Resume` (landing pads run only while a
panic that is reported where it starts unwinds).

`core::fmt` is a boundary (`BOUNDARY`): reached functions there are reported, not followed.
`Logger::log` formats the record's arguments with `core::fmt::write`, which calls the
arguments' `Display` impls and the sink's `fmt::Write` methods through pointers: the
`Display` impls are the caller's business (the log module says so), the sink is sigring's
and is followed from where its vtable is taken, and `core::fmt` itself is the standard
library's formatting engine, which sigring trusts not to allocate or lock.

Usage: check.py [-v] NAME=BINARY [NAME=BINARY ...]   (-v lists every function reached;
exit status 1 on any violation)
"""

import bisect
import re
import subprocess
import sys
from collections import deque

ENTRY_PREFIX = "sigring_probe_"

# Functions that run in a handler but are only reached through a pointer the probe cannot
# name, found by their demangled name. (regex, why)
ENTRY_PATTERNS = [
    (r"^sigring::signal::forward::action::\{\{closure\}\}$",
     "the action signal::forward registers with signal-hook-registry"),
]

# Functions outside the binary a handler path may call, with the reason each is safe.
ALLOWED_EXTERNAL = {
    "write": "the wake-up: one write(2) to the eventfd or pipe; POSIX async-signal-safe",
    "getpid": "signal::forward's action ignores deliveries in a forked child, and a shared "
              "channel's first send in a process claims a lane with its pid; POSIX "
              "async-signal-safe",
    "clock_gettime": "the log record's timestamp; POSIX async-signal-safe (a vDSO read)",
    "__errno_location": "the errno guard saves and restores errno around the write; glibc "
                        "returns the address of the thread's errno, initialised with the "
                        "thread (no lazy init, no lock)",
    "syscall": "one raw system call: the wake-up of a recv asleep on the channel's flag "
               "(syscall(SYS_futex, FUTEX_WAKE), what sem_post does) and the log record's "
               "thread id (syscall(SYS_gettid)); std's futex locks would show up by name, "
               "under std::sys::sync, first",
    "memcpy": "compiler-emitted copies of values; POSIX.1-2008 TC2 lists it as "
              "async-signal-safe",
    "memmove": "as memcpy",
    "memset": "as memcpy (zeroing buffers)",
    "memcmp": "as memcpy (comparisons)",
    "bcmp": "what LLVM emits for memcmp used only for equality",
    "_Unwind_Resume": "the end of a landing pad (a destructor run while unwinding): reached "
                      "only once a callee panicked, which is reported where it starts, or "
                      "beyond the core::fmt boundary (a log argument's Display impl)",
}

# Reached functions that break the contract, by category. Matched (re.search) against the
# demangled name, internal or external.
FORBIDDEN = [
    # Debug-assertion builds check every raw-pointer dereference for null and misalignment,
    # every transmute into an enum for a valid discriminant, and the preconditions of
    # `copy_nonoverlapping` and friends; a failed check prints through the panic machinery
    # and aborts. It fires only when the program already has undefined behaviour, and std
    # offers no unchecked way around it, so it is reported (see REPORT_ONLY) but does not
    # fail the stage. Listed before "panic", which it would otherwise match.
    ("ub-check", r"^core::panicking::(panic_misaligned_pointer_dereference"
                 r"|panic_null_pointer_dereference|panic_invalid_enum_construction"
                 r"|panic_nounwind_fmt|panic_nounwind)$"),
    ("panic", r"panic|core::panicking::|slice_index_fail|slice_(start|end)_index_len_fail"
              r"|slice_index_order_fail|str::slice_error_fail|unwrap_failed|expect_failed"
              r"|^_Unwind_RaiseException$|^abort$"),
    ("allocation", r"(^|::)__rust_(alloc|dealloc|realloc|alloc_zeroed)$"
                   r"|(^|::)__r[dg]l?_(alloc|dealloc|realloc|alloc_zeroed)$"
                   r"|^(malloc|calloc|realloc|free|posix_memalign|aligned_alloc)$"
                   r"|^alloc::alloc::|handle_alloc_error|^alloc::raw_vec::"),
    ("lock", r"^pthread_(mutex|rwlock|cond|once)_|^std::sys::sync::|^std::sync::"
             r"|^std::sys::pal::unix::futex|parking_lot"),
    ("thread-local", r"^__tls_get_addr$|^std::thread::local::|LocalKey"
                     r"|^std::sys::thread_local::|^std::thread::current"),
]

# Categories of FORBIDDEN that are reported without failing the stage.
REPORT_ONLY = {"ub-check"}

# Reached, reported, not followed. (regex, why)
BOUNDARY = [
    (r"^core::fmt::(?!Write::)", "core::fmt: the standard library's formatting engine"),
    (r"^(?!.*sigring).*\bas core::fmt::(Display|Debug|LowerHex|UpperHex|Octal|Binary"
     r"|LowerExp|UpperExp|Pointer)>::fmt$",
     "a Display/Debug impl of a log argument: the caller's, not sigring's"),
]

# Indirect calls accepted, per entry point: (entry regex, function regex, why). Apart from
# these, the only dynamic dispatch on the handler paths is inside core::fmt, beyond the
# boundary.
ALLOWED_INDIRECT = [
    (r"^sigring_probe_log_macro$", r"^<log::__private_api::GlobalLogger as log::Log>::log$",
     "the log crate's call of the installed logger (a &dyn Log); with sigring's installed "
     "that is Logger::log, checked as the entry point sigring_probe_log"),
]


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def clean(name):
    """A demangled name without the PLT/version decoration: `write@plt` -> `write`."""
    return re.sub(r"@.*$", "", name)


class Binary:
    """The functions, sections and dynamic relocations of one ELF binary."""

    def __init__(self, path):
        self.path = path
        self.sections = {}  # name -> (start, end, file offset)
        for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)",
                             run("readelf", "-SW", path)):
            start = int(m.group(2), 16)
            self.sections[m.group(1)] = (start, start + int(m.group(4), 16),
                                         int(m.group(3), 16))
        with open(path, "rb") as f:
            self.image = f.read()
        # GOT and vtable slots: address -> ("addr", target) or ("ext", name).
        self.slots = {}
        for line in run("objdump", "-R", path).splitlines():
            parts = line.split()
            if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{16}", parts[0]):
                continue
            slot, kind, value = int(parts[0], 16), parts[1], parts[2]
            m = re.fullmatch(r"\*ABS\*\+0x([0-9a-f]+)", value)
            if kind.endswith("RELATIVE") and m:
                self.slots[slot] = ("addr", int(m.group(1), 16))
            elif kind.endswith(("GLOB_DAT", "JUMP_SLOT", "64")):
                self.slots[slot] = ("ext", clean(value.split("+")[0]))
        # Functions: start -> name, and each one's instructions.
        self.names = {}
        self.code = {}
        section = ""
        current = None
        dis = run("objdump", "-d", "-C", "-w", "--no-show-raw-insn", path)
        for line in dis.splitlines():
            if line.startswith("Disassembly of section "):
                section = line.split()[-1].rstrip(":")
                continue
            m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
            if m:
                current = int(m.group(1), 16)
                name = m.group(2)
                if section != ".text" or name.endswith("@plt"):
                    name = "@ext:" + clean(name)
                self.names[current] = name
                self.code[current] = []
                continue
            m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
            if m and current is not None:
                self.code[current].append((int(m.group(1), 16), m.group(2)))
        self.starts = sorted(self.names)
        self.by_name = {}
        for start, name in self.names.items():
            self.by_name.setdefault(name, []).append(start)

    def function_at(self, addr):
        """The start of the function containing `addr`, or None."""
        i = bisect.bisect_right(self.starts, addr) - 1
        return self.starts[i] if i >= 0 else None

    def is_function(self, addr):
        """Whether `addr` is the start of a function of the binary's .text."""
        start, end, _ = self.sections.get(".text", (0, 0, 0))
        return addr in self.names and start <= addr < end

    def word(self, addr):
        """The 8 bytes at `addr` as stored in the file (before relocation), or None."""
        for name, (start, end, offset) in self.sections.items():
            if start <= addr and addr + 8 <= end and name not in (".bss", ".tbss"):
                at = offset + addr - start
                return int.from_bytes(self.image[at:at + 8], "little")
        return None

    def label(self, addr):
        """A function's name, with its address when several functions share the name
        (instances of one generic function demangle alike)."""
        name = self.names[addr]
        return name if len(self.by_name.get(name, [])) < 2 else f"{name}@{addr:x}"

    def vtable_targets(self, addr):
        """The methods of the vtable at `addr`, or [] if it is not one. A Rust vtable is
        drop_in_place (or null), size, alignment, then one pointer per method; the methods
        end where a pointer to a non-function or the next vtable's drop_in_place begins."""
        drop, size, align = (self.slots.get(addr + 8 * i) for i in range(3))
        if drop is None:
            if self.word(addr) != 0:
                return []
        elif not (drop[0] == "addr" and self.is_function(drop[1])
                  and self.names[drop[1]].startswith("core::ptr::drop_in_place")):
            return []
        size_v, align_v = self.word(addr + 8), self.word(addr + 16)
        if size is not None or align is not None or size_v is None or align_v is None \
                or not 0 < align_v <= 1 << 29 or align_v & (align_v - 1) or size_v % align_v:
            return []
        out = []
        for i in range(3, 64):
            slot = self.slots.get(addr + 8 * i)
            if not (slot and slot[0] == "addr" and self.is_function(slot[1])) \
                    or self.names[slot[1]].startswith("core::ptr::drop_in_place"):
                break
            out.append(slot[1])
        return out


# An instruction: optional prefixes, the mnemonic, operands, and objdump's `# addr <sym>`.
INSN = re.compile(r"^((?:(?:notrack|bnd|addr32|data16|rex\.\w+|lock|cs|ds)\s+)*)(\S+)\s*"
                  r"([^#]*?)\s*(?:#\s*([0-9a-f]+)(?:\s+<.*>)?)?$")


EDGES = {}  # (binary path, function start) -> edges()


def edges(binary, start):
    """What the function at `start` calls or takes the address of: a list of
    (site, kind, target), site the instruction's address, kind one of call/jump/addr/ext/
    indirect/tls, target a function start, an external name, or the instruction text."""
    key = (binary.path, start)
    if key in EDGES:
        return EDGES[key]
    out = []
    insns = binary.code[start]
    loaded = register_loads(binary, insns)  # site -> value
    for n, (site, text) in enumerate(insns):
        m = INSN.match(text)
        if not m:
            continue
        mnemonic, operands, comment = m.group(2), m.group(3), m.group(4)
        is_branch = mnemonic.startswith(("call", "jmp")) or re.fullmatch(r"j[a-z]+", mnemonic)
        if "%fs:" in operands:
            out.append((site, "tls", text))
        if is_branch and operands.startswith("*"):
            target = None
            if "(%rip)" in operands and comment:
                target = binary.slots.get(int(comment, 16))
            elif re.fullmatch(r"\*%\w+", operands):
                target = loaded.get(site)
            if target:
                kind, value = target
                out.append((site, "ext" if kind == "ext" else "call", value))
            elif not (mnemonic.startswith("jmp") and is_jump_table(insns, n)):
                out.append((site, "indirect", text))
            continue
        if is_branch:
            t = re.match(r"^([0-9a-f]+)\b", operands)
            if not t:
                continue
            owner = binary.function_at(int(t.group(1), 16))
            if owner is None or owner == start:
                continue
            name = binary.names[owner]
            if name.startswith("@ext:"):
                out.append((site, "ext", name[5:]))
            else:
                out.append((site, "call" if mnemonic.startswith("call") else "jump", owner))
            continue
        # Addresses taken: a function's (lea), a GOT slot's content (mov), a vtable's.
        if comment and "(%rip)" in operands:
            ref = int(comment, 16)
            if mnemonic.startswith("lea"):
                if binary.is_function(ref) and ref != start:
                    out.append((site, "addr", ref))
                else:
                    out.extend((site, "addr", f) for f in binary.vtable_targets(ref))
            elif mnemonic.startswith("mov"):
                slot = binary.slots.get(ref)
                if slot and slot[0] == "addr" and binary.is_function(slot[1]):
                    out.append((site, "addr", slot[1]))
    EDGES[key] = out
    return out


REGISTER_ALIASES = {}
for _r in "abcd":
    for _a in (f"r{_r}x", f"e{_r}x", f"{_r}x", f"{_r}l", f"{_r}h"):
        REGISTER_ALIASES[_a] = f"r{_r}x"
for _r in ("si", "di", "bp", "sp"):
    for _a in (f"r{_r}", f"e{_r}", _r, f"{_r}l"):
        REGISTER_ALIASES[_a] = f"r{_r}"
for _i in range(8, 16):
    for _a in (f"r{_i}", f"r{_i}d", f"r{_i}w", f"r{_i}b"):
        REGISTER_ALIASES[_a] = f"r{_i}"


def register(operand):
    """`%r15d` -> `r15`, `%eax` -> `rax`: the 64-bit register an operand names."""
    name = operand.strip().lstrip("%")
    return REGISTER_ALIASES.get(name, name)


def register_loads(binary, insns):
    """For each `call *%reg` / `jmp *%reg` site: the one known function address the register
    holds there, as ("ext", name) or ("addr", start). This resolves the calls the compiler
    hoists (`mov write@GOT(%rip),%r15` ... `call *%r15`, or a GOT slot of a function of the
    binary itself). Two rules, both sound without a control-flow graph:

    * if every write of the register in the whole function loads the same known address,
      that is its value everywhere;
    * otherwise, at a call site, if the writes *before* it (in address order) all load the
      same known address and no jump at or after the site goes back to the site or before
      it (no loop could bring a later write around), that address.

    Anything else stays unresolved and is reported as an indirect call."""
    writes = []  # (index, register, value or None)
    backward = []  # indices of jumps whose target lies at or before themselves
    addr_index = {site: i for i, (site, _) in enumerate(insns)}
    for i, (site, text) in enumerate(insns):
        m = INSN.match(text)
        if not m:
            continue
        mnemonic, operands, comment = m.group(2), m.group(3), m.group(4)
        if re.fullmatch(r"j[a-z]+", mnemonic) or mnemonic.startswith("jmp"):
            t = re.match(r"^([0-9a-f]+)\b", operands)
            if t and int(t.group(1), 16) in addr_index and int(t.group(1), 16) <= site:
                backward.append((i, addr_index[int(t.group(1), 16)]))
        if mnemonic.startswith(("push", "pop", "cmp", "test", "call", "j", "ret", "bt",
                                "ucomis", "comis", "nop")):
            continue
        dest = operands.rsplit(",", 1)[-1].strip()
        if not re.fullmatch(r"%\w+", dest):
            continue
        reg = register(dest)
        value = None
        if comment and "(%rip)" in operands:
            ref = int(comment, 16)
            if mnemonic.startswith("mov"):
                value = binary.slots.get(ref)
            elif mnemonic.startswith("lea") and binary.is_function(ref):
                value = ("addr", ref)
        writes.append((i, reg, value))

    def one_value(ws):
        values = {v for _, _, v in ws}
        if len(values) == 1 and None not in values:
            return values.pop()
        return None

    resolved = {}
    for i, (site, text) in enumerate(insns):
        m = INSN.match(text)
        if not m or not re.fullmatch(r"\*%\w+", m.group(3) or ""):
            continue
        reg = register(m.group(3)[1:])
        mine = [w for w in writes if w[1] == reg]
        value = one_value(mine)
        if value is None:
            looped = any(j >= i and target <= i for j, target in backward)
            if not looped:
                value = one_value([w for w in mine if w[0] < i])
        if value is not None:
            resolved[site] = value
    return resolved


def is_jump_table(insns, n):
    """Whether the register `jmp *%reg` at index n dispatches through a table of offsets
    (a `match`): the PIC pattern loads a 32-bit entry from a table just before."""
    for _, text in insns[max(0, n - 6):n]:
        if re.search(r"movslq\s+\(%\w+,%\w+,4\)", text):
            return True
    return False


def classify(name):
    """("forbidden", category) / ("boundary", why) / None for a demangled name. A leading
    `<` is ignored: an inherent method demangles as `<std::sys::sync::Mutex>::lock`."""
    name = name.lstrip("<")
    for category, pattern in FORBIDDEN:
        if re.search(pattern, name):
            return ("forbidden", category)
    for pattern, why in BOUNDARY:
        if re.search(pattern, name):
            return ("boundary", why)
    return None


def check_entry(binary, entry, entry_name):
    """Walks everything reachable from `entry`. Returns (externals, boundaries, violations,
    indirect_allowed, functions followed); a violation is (what, chain of names, call
    site addresses)."""
    parent = {entry: None}  # function -> (caller, call site), for the chains
    queue = deque([entry])
    externals, boundaries, violations, allowed = set(), set(), [], []
    reported = {}

    def chain(node, last=None):
        names = []
        while node is not None:
            names.append(binary.label(node))
            node = parent[node][0] if parent[node] else None
        names.reverse()
        return names + ([last] if last else [])

    def violate(what, node, site, last):
        # One report per calling function and target, with all its call sites.
        key = (what, node, last)
        if key not in reported:
            reported[key] = (what, chain(node, last), [])
            violations.append(reported[key])
        reported[key][2].append(site)

    while queue:
        node = queue.popleft()
        for site, kind, target in edges(binary, node):
            if kind in ("call", "jump", "addr"):
                name = binary.names[target]
                verdict = classify(name)
                if verdict and verdict[0] == "forbidden":
                    violate(verdict[1], node, site, binary.label(target))
                elif verdict and verdict[0] == "boundary":
                    boundaries.add(name)
                elif target not in parent:
                    parent[target] = (node, site)
                    queue.append(target)
            elif kind == "ext":
                v = classify(target)
                if v and v[0] == "forbidden":
                    violate(v[1], node, site, target + " (external)")
                elif target in ALLOWED_EXTERNAL:
                    externals.add(target)
                else:
                    violate("external call not allowed", node, site, target + " (external)")
            elif kind == "indirect":
                name = binary.names[node]
                why = next((w for e, f, w in ALLOWED_INDIRECT
                            if re.search(e, entry_name) and re.search(f, name)), None)
                if why:
                    allowed.append((name, target, why))
                else:
                    violate("indirect call", node, site, f"`{target}`")
            elif kind == "tls":
                violate("thread-local access", node, site, f"`{target}`")
    return externals, boundaries, violations, allowed, sorted(parent)


def branch_sources(binary, site):
    """The call site and the branches that lead to it. The compiler merges the calls to
    one panic function into one block that several checks jump to, so the line of each
    check is on its branch, not on the shared call. Reported: the branches into the
    straight-line code that ends at the call (and a conditional branch that falls through
    into it), and, through short argument-setting tails (`mov ...; jmp shared`), the
    branches into those."""
    insns = binary.code.get(binary.function_at(site), [])
    index = {a: i for i, (a, _) in enumerate(insns)}
    stop = re.compile(r"(j[a-z]+|ret|ud2|int3|call)\b")
    found, todo = {site}, [site]
    while todo:
        at = todo.pop()
        i = index.get(at)
        if i is None:
            continue
        while i > 0 and not stop.match(insns[i - 1][1]):
            i -= 1
        region = insns[i][0]  # straight-line code from `region` to `at`
        if i > 0 and re.match(r"j(?!mp)[a-z]+\s", insns[i - 1][1]):
            found.add(insns[i - 1][0])  # a check that falls through into it
        for a, text in insns:
            m = re.match(r"(j[a-z]+)\s+([0-9a-f]+)\b", text)
            if not m or not region <= int(m.group(2), 16) <= at or a in found:
                continue
            found.add(a)
            j = index[a]
            tail = 0
            while j - tail > 0 and not stop.match(insns[j - tail - 1][1]):
                tail += 1
            if m.group(1) == "jmp" and tail <= 4:
                todo.append(a)
    return sorted(found)


def source_lines(path, sites):
    """Address -> "file:line <- file:line ...": the innermost frame, then sigring's frames
    it is inlined into, from the binary's line tables (the probe is built with debug = 1).
    Addresses without a known line are left out."""
    sites = sorted(set(sites))
    if not sites:
        return {}
    out = run("addr2line", "-e", path, "-i", "-a", *[f"{s:x}" for s in sites])
    frames, current = {}, None
    for line in out.splitlines():
        if line.startswith("0x"):
            current = int(line, 16)
            frames[current] = []
        elif current is not None and line.strip() and not line.startswith("??"):
            frames[current].append(shorten(line.split(" (discriminator")[0]))
    where = {}
    for site, stack in frames.items():
        if not stack or stack[0].endswith(":?"):
            continue
        own = [f for f in stack[1:] if f.startswith(("src/", "probe/"))]
        where[site] = " <- ".join([stack[0]] + own)
    return where


def shorten(location):
    """Paths relative to the crate, the registry or the toolchain's library."""
    for marker in ("/.ci/symbols/probe/", "/registry/src/", "/library/"):
        if marker in location:
            tail = location.split(marker, 1)[1]
            return ("probe/" if "probe" in marker else "") + (
                tail.split("/", 1)[1] if marker == "/registry/src/" else tail)
    m = re.search(r"/(src/[^ ]+)$", location)
    return m.group(1) if m else location


def entries(binary):
    found = []
    for start, name in binary.names.items():
        if name.startswith(ENTRY_PREFIX):
            found.append((name, start))
    for pattern, _why in ENTRY_PATTERNS:
        matched = [(n, s) for s, n in binary.names.items() if re.search(pattern, n)]
        if not matched:
            print(f"symbols: no function matches entry pattern {pattern!r}")
            found.append((pattern, None))
        found.extend(matched)
    return sorted(found)


def main(argv):
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    if not argv or any("=" not in a for a in argv):
        print("\n".join(__doc__.strip().splitlines()[-2:]), file=sys.stderr)
        return 2
    failed = 0
    for arg in argv:
        build, path = arg.split("=", 1)
        binary = Binary(path)
        found = entries(binary)
        print(f"=== symbols [{build}]: {len(found)} entry points in {path}")
        if not any(n.startswith(ENTRY_PREFIX) for n, _ in found):
            print(f"symbols [{build}]: FAIL: no {ENTRY_PREFIX}* function in the binary")
            failed += 1
            continue
        results = []
        for name, start in found:
            if start is None:
                print(f"FAIL [{build}] {name}: not found in the binary")
                failed += 1
                continue
            results.append((name, start, check_entry(binary, start, name)))
        sources = {site: branch_sources(binary, site)
                   for _, _, r in results for _, _, sites in r[2] for site in sites}
        where = source_lines(path, [a for found in sources.values() for a in found])
        distinct = {}  # (report only, what, target, source line) -> entry points
        for name, start, (ext, bound, viol, allowed, reached) in results:
            label = binary.label(start) if start in binary.names else name
            fails = [v for v in viol if v[0] not in REPORT_ONLY]
            status = "ok  " if not fails else "FAIL"
            print(f"{status} [{build}] {label}: {len(reached)} functions followed; "
                  f"external: {', '.join(sorted(ext)) or '-'}")
            if verbose:
                for f in reached:
                    print(f"       reached: {binary.label(f)}")
            for b in sorted(bound):
                print(f"       boundary (not followed): {b}")
            for fn, insn, why in allowed:
                print(f"       indirect call allowed in {fn}: `{insn}`\n"
                      f"           ({why})")
            for what, names, sites in sorted(viol, key=lambda v: v[0] in REPORT_ONLY):
                print(f"       {'note' if what in REPORT_ONLY else 'VIOLATION'} {what}: "
                      f"{' -> '.join(names)}")
                lines = [where[a] for site in sites for a in sources[site] if a in where]
                for line in dict.fromkeys(lines):
                    print(f"           at {line}")
                if not lines:
                    lines = [f"{', '.join(f'{a:x}' for a in sites)} (no line)"]
                    print(f"           at {lines[0]}")
                target = re.sub(r"@[0-9a-f]+$", "", names[-1])
                for line in lines:
                    # The site in sigring itself: the innermost frame under src/.
                    own = re.search(r"(?:^| )(src/\S+)", line)
                    key = (what in REPORT_ONLY, what, target, own.group(1) if own else line)
                    distinct.setdefault(key, set()).add(name)
            failed += bool(fails)
        if distinct:
            print(f"--- [{build}] distinct findings: the line in sigring, and how many entry "
                  f"points reach it")
            for (note, what, target, line), names in sorted(distinct.items()):
                print(f"{'note' if note else 'FAIL'} [{build}] {what}: {target} at {line}"
                      f" ({len(names)})")
    print(f"symbols: {failed} entry point(s) with violations" if failed
          else "symbols: no violations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
