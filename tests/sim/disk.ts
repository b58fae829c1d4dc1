/**
 * The simulated disk of one host: files and folders in memory, in mounts of limited size. What was
 * written survives a process crash; only what was fsynced survives a power loss. A mount can be
 * filled (ENOSPC), made to fail (EIO) for a number of writes, or made read-only. Each process gets
 * an Fs bound to its Life, and every path it writes is recorded (to check it stayed in bounds).
 */
import type { DirEntry, FileHandle, FileInfo, Fs, OpenOptions } from "../../lib/store/fs.ts";
import type { Life, World } from "./world.ts";
import { dirname, normalize } from "node:path";

interface Node {
  data: Uint8Array;
  size: number;
  /** What a power loss leaves: the content at the last fsync. */
  durable: Uint8Array;
}

export interface Mount {
  prefix: string;
  capacity: number;
  readOnly: boolean;
  /** Writes that fail with EIO from now on (counts down). */
  eio: number;
}

/** Virtual time an asynchronous file operation takes, and per byte. */
const OP_MS = 0.02;
const BYTES_PER_MS = 1_000_000;

export class Disk {
  readonly files = new Map<string, Node>();
  readonly dirs = new Set<string>(["/"]);
  readonly mounts: Mount[];
  /** Every path a peer process created or wrote. */
  readonly written = new Set<string>();
  #world: World;

  constructor(world: World, mounts: { prefix: string; capacity: number }[]) {
    this.#world = world;
    this.mounts = mounts.map((m) => ({ ...m, readOnly: false, eio: 0 }));
    for (const m of this.mounts) this.#mkdirs(m.prefix);
  }

  mount(path: string): Mount {
    let best: Mount | undefined;
    for (const m of this.mounts) {
      if (
        (path === m.prefix || path.startsWith(m.prefix + "/")) &&
        (!best || m.prefix.length > best.prefix.length)
      ) best = m;
    }
    if (!best) throw new Error(`Simulated disk: ${path} is on no mount`);
    return best;
  }

  used(m: Mount): number {
    let n = 0;
    for (const [p, f] of this.files) if (this.mount(p) === m) n += f.size;
    return n;
  }

  /** Writes a file as the user would (not recorded as the peer's doing), durable. */
  put(path: string, data: Uint8Array): void {
    this.#mkdirs(dirname(path));
    this.files.set(path, { data: data.slice(), size: data.length, durable: data.slice() });
  }

  read(path: string): Uint8Array | undefined {
    const f = this.files.get(path);
    return f?.data.slice(0, f.size);
  }

  /** A power loss: every file keeps only what was fsynced. */
  powerLoss(): void {
    for (const f of this.files.values()) {
      f.data = f.durable.slice();
      f.size = f.durable.length;
    }
  }

  fsFor(life: Life): Fs {
    return fsOn(this, this.#world, life);
  }

  #mkdirs(path: string): void {
    for (let p = normalize(path); !this.dirs.has(p); p = dirname(p)) this.dirs.add(p);
  }
}

function fsOn(disk: Disk, w: World, life: Life): Fs {
  {
    const check = () => {
      if (!life.alive) throw new Error("Simulated disk: a dead process touched the disk");
    };
    const later = <T>(bytes: number, f: () => T, queue?: { until: number }) => {
      // One handle's operations run one after another, in the order they were issued (Deno runs
      // them so): a short read issued second must not finish first and take the earlier bytes.
      const start = queue ? Math.max(w.now, queue.until) : w.now;
      const end = start + OP_MS + bytes / BYTES_PER_MS;
      if (queue) queue.until = end;
      return w.after(life, end - w.now, () => {
        check();
        return f();
      });
    };
    const open = (path: string, o: OpenOptions): FileHandle => {
      check();
      path = normalize(path);
      const writing = o.write || o.append || o.create || o.createNew || o.truncate;
      const m = disk.mount(path);
      if (writing && m.readOnly) throw new Deno.errors.PermissionDenied("Permission denied");
      if (!disk.dirs.has(dirname(path))) throw notFound(path);
      if (disk.dirs.has(path) && writing) throw new Deno.errors.IsADirectory("Is a directory");
      let f = disk.files.get(path);
      if (f && o.createNew) throw new Deno.errors.AlreadyExists(`File exists: ${path}`);
      if (!f) {
        if (!(o.create || o.createNew)) {
          if (disk.dirs.has(path)) return dirHandle();
          throw notFound(path);
        }
        f = { data: new Uint8Array(0), size: 0, durable: new Uint8Array(0) };
        disk.files.set(path, f);
      }
      if (writing) disk.written.add(path);
      if (o.truncate) f.size = 0;
      return handle(path, f, Boolean(o.append));
    };
    const handle = (path: string, f: Node, append: boolean): FileHandle => {
      let pos = 0, closed = false;
      const queue = { until: 0 };
      const op = <T>(bytes: number, f: () => T) => later(bytes, f, queue);
      const live = () => {
        check();
        if (closed) throw new Deno.errors.BadResource("Bad resource ID");
        // A file removed or renamed over keeps its handle's node.
      };
      const readSync = (p: Uint8Array) => {
        live();
        if (pos >= f.size) return p.length === 0 ? 0 : null;
        const n = Math.min(p.length, f.size - pos);
        p.set(f.data.subarray(pos, pos + n));
        pos += n;
        return n;
      };
      const truncateSync = (length: number) => {
        live();
        if (length < f.size) f.size = length;
        else {
          const bytes = new Uint8Array(length);
          bytes.set(f.data.subarray(0, f.size));
          f.data = bytes;
          f.size = length;
        }
      };
      const writeSync = (p: Uint8Array) => {
        live();
        const m = disk.mount(path);
        if (m.readOnly) throw new Deno.errors.PermissionDenied("Permission denied");
        if (m.eio > 0) {
          m.eio--;
          throw new Error("Input/output error (os error 5)");
        }
        if (append) pos = f.size;
        const grow = Math.max(0, pos + p.length - f.size);
        const room = m.capacity - disk.used(m);
        let n = p.length;
        if (grow > room) {
          n = Math.max(0, p.length - (grow - room));
          if (n === 0) throw new Error("No space left on device (os error 28)");
        }
        if (pos + n > f.data.length) {
          const bigger = new Uint8Array(Math.max(pos + n, f.data.length * 2, 64));
          bigger.set(f.data.subarray(0, f.size));
          f.data = bigger;
        }
        if (pos > f.size) f.data.fill(0, f.size, pos);
        f.data.set(p.subarray(0, n), pos);
        pos += n;
        f.size = Math.max(f.size, pos);
        return n;
      };
      const sync = () => {
        live();
        f.durable = f.data.slice(0, f.size);
      };
      return {
        read: (p) => op(p.length, () => readSync(p)),
        readSync,
        write: (p) => {
          const copy = p.slice();
          return op(p.length, () => writeSync(copy));
        },
        writeSync,
        seek: (offset) => op(0, () => (live(), pos = offset)),
        seekSync: (offset) => (live(), pos = offset),
        truncate: (length = 0) => op(0, () => truncateSync(length)),
        truncateSync: (length = 0) => truncateSync(length),
        stat: () => op(0, () => (live(), { size: f.size })),
        statSync: () => (live(), { size: f.size }),
        syncData: () => op(0, sync),
        syncDataSync: sync,
        syncSync: sync,
        close: () => {
          if (closed) throw new Deno.errors.BadResource("Bad resource ID");
          closed = true;
        },
      };
    };
    const dirHandle = (): FileHandle => {
      const none = () => {
        throw new Deno.errors.IsADirectory("Is a directory");
      };
      return {
        read: () => Promise.reject(new Deno.errors.IsADirectory("Is a directory")),
        readSync: none,
        write: () => Promise.reject(new Deno.errors.IsADirectory("Is a directory")),
        writeSync: none,
        seek: () => Promise.resolve(0),
        seekSync: () => 0,
        truncate: () => Promise.resolve(),
        truncateSync: none,
        stat: () => Promise.resolve({ size: 0 }),
        statSync: () => ({ size: 0 }),
        syncData: () => Promise.resolve(),
        syncDataSync() {},
        syncSync() {},
        close() {},
      };
    };
    const info = (path: string): FileInfo => {
      check();
      path = normalize(path);
      const f = disk.files.get(path);
      if (f) return { size: f.size, isFile: true, isDirectory: false };
      if (disk.dirs.has(path)) return { size: 0, isFile: false, isDirectory: true };
      throw notFound(path);
    };
    const mkdir = (path: string, o?: { recursive?: boolean }) => {
      check();
      path = normalize(path);
      if (disk.dirs.has(path)) {
        if (o?.recursive) return;
        throw new Deno.errors.AlreadyExists(`File exists: ${path}`);
      }
      if (disk.files.has(path)) throw new Deno.errors.AlreadyExists(`File exists: ${path}`);
      if (disk.mount(path).readOnly) throw new Deno.errors.PermissionDenied("Permission denied");
      if (!disk.dirs.has(dirname(path))) {
        if (!o?.recursive) throw notFound(path);
        mkdir(dirname(path), o);
      }
      disk.dirs.add(path);
      disk.written.add(path);
    };
    const rename = (from: string, to: string) => {
      check();
      from = normalize(from), to = normalize(to);
      const f = disk.files.get(from);
      if (!f) throw notFound(from);
      if (!disk.dirs.has(dirname(to))) throw notFound(to);
      disk.files.delete(from);
      disk.files.set(to, f);
      disk.written.add(to);
    };
    const remove = (path: string) => {
      check();
      path = normalize(path);
      if (!disk.files.delete(path)) throw notFound(path);
    };
    return {
      open: (path, o) => later(0, () => open(path, o)),
      openSync: open,
      readFileSync: (path) => {
        const h = open(path, { read: true });
        const f = disk.files.get(normalize(path))!;
        h.close();
        return f.data.slice(0, f.size);
      },
      writeFileSync: (path, data) => {
        const h = open(path, { write: true, create: true, truncate: true });
        for (let rest = data; rest.length;) rest = rest.subarray(h.writeSync(rest));
        h.close();
      },
      mkdir: (path, o) => later(0, () => mkdir(path, o)),
      mkdirSync: mkdir,
      realPath: (path) => later(0, () => (info(path), normalize(path))),
      rename: (from, to) => later(0, () => rename(from, to)),
      renameSync: rename,
      remove: (path) => later(0, () => remove(path)),
      stat: (path) => later(0, () => info(path)),
      statSync: info,
      readDir: (path) => {
        const entries = (): DirEntry[] => {
          info(path);
          const dir = normalize(path);
          const out: DirEntry[] = [];
          const under = (p: string) => dirname(p) === dir && p !== dir;
          for (const d of disk.dirs) {
            if (under(d)) {
              out.push({ name: d.slice(dir.length + 1), isFile: false, isDirectory: true });
            }
          }
          for (const p of disk.files.keys()) {
            if (under(p)) {
              out.push({ name: p.slice(dir.length + 1), isFile: true, isDirectory: false });
            }
          }
          return out.sort((a, b) => a.name < b.name ? -1 : 1);
        };
        return (async function* () {
          yield* await later(0, entries);
        })();
      },
      freeSpace: (path) =>
        later(0, () => {
          const m = disk.mount(normalize(path));
          return m.capacity - disk.used(m);
        }),
      syncDirOf: () => check(),
    };
  }
}

function notFound(path: string): Error {
  return new Deno.errors.NotFound(`No such file or directory (os error 2): ${path}`);
}
