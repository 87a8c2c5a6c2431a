/**
 * Harness of the container image test: find what scripts/build-image.sh built (its description in
 * test-artifacts/siesta-image.json), read the OCI archive's config and layer listing with `tar
 * -xOf`, mount what the root filesystem needs for `chroot`, and find processes whose root is it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../../..');
export const DESCRIPTION_FILE = join(REPO, 'test-artifacts/siesta-image.json');

export interface BuiltImage {
  /** The root filesystem the archive was made from (siesta in `appDir`). */
  readonly root: string;
  readonly archive: string;
  readonly image: string;
  readonly appDir: string;
  readonly uid: number;
}

/** The image's runtime settings (the OCI image config's `config` object). */
export interface ImageConfig {
  readonly User?: string;
  readonly ExposedPorts?: Record<string, object>;
  readonly Env?: string[];
  readonly Entrypoint?: string[];
  readonly Cmd?: string[];
  readonly WorkingDir?: string;
  readonly Labels?: Record<string, string>;
  readonly StopSignal?: string;
}

/** What the build script described, or why there is nothing to test. */
export function findBuiltImage(): BuiltImage | string {
  if (!existsSync(DESCRIPTION_FILE)) return `${DESCRIPTION_FILE} does not exist: no image was built (run scripts/build-image.sh as root)`;
  let raw: Partial<BuiltImage>;
  try {
    raw = JSON.parse(readFileSync(DESCRIPTION_FILE, 'utf8')) as Partial<BuiltImage>;
  } catch (error) {
    return `${DESCRIPTION_FILE} is unreadable: ${(error as Error).message}`;
  }
  const { root, archive, image, appDir, uid } = raw;
  if (typeof root !== 'string' || typeof archive !== 'string' || typeof image !== 'string' || typeof appDir !== 'string' || typeof uid !== 'number') {
    return `${DESCRIPTION_FILE} lacks root, archive, image, appDir or uid`;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return `not running as root (uid ${process.getuid()}): chroot(8) and mount need root`;
  return { root, archive, image, appDir, uid };
}

function tarMember(archive: string, member: string): Buffer {
  return execFileSync('tar', ['-xOf', archive, member], { maxBuffer: 1 << 30 });
}

function blobPath(digest: unknown): string {
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not a sha256 digest: ${String(digest)}`);
  return `blobs/${digest.replace(':', '/')}`;
}

interface Manifest {
  readonly config: { readonly digest: string };
  readonly layers: readonly { readonly digest: string; readonly mediaType: string }[];
}

/** index.json → the manifest named `refName` → its config and layers. */
export function readArchive(archive: string, refName: string): { config: ImageConfig; manifest: Manifest; architecture: string; os: string } {
  const index = JSON.parse(tarMember(archive, 'index.json').toString('utf8')) as { manifests?: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests?.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === refName) ?? index.manifests?.[0];
  if (!entry) throw new Error(`${archive}: index.json lists no manifest`);
  const manifest = JSON.parse(tarMember(archive, blobPath(entry.digest)).toString('utf8')) as Manifest;
  const image = JSON.parse(tarMember(archive, blobPath(manifest.config.digest)).toString('utf8')) as { config?: ImageConfig; architecture: string; os: string };
  return { config: image.config ?? {}, manifest, architecture: image.architecture, os: image.os };
}

/** `tar -tv` lines of one (gzip or plain) layer of the archive, keyed by path without a trailing slash. */
export function layerListing(archive: string, layer: { readonly digest: string; readonly mediaType: string }): Map<string, string> {
  const blob = tarMember(archive, blobPath(layer.digest));
  const listing = execFileSync('tar', ['--numeric-owner', layer.mediaType.endsWith('+gzip') ? '-tvzf' : '-tvf', '-'], { input: blob, maxBuffer: 1 << 28 }).toString('utf8');
  const entries = new Map<string, string>();
  for (const line of listing.split('\n')) {
    // drwxr-x--- 10001/10001 0 2026-11-30 09:25 var/lib/siesta/
    const match = /^\S+ \S+ +\S+ \S+ \S+ (.*?)(?: -> .*)?$/.exec(line);
    if (match?.[1]) entries.set(match[1].replace(/^\.\//, '').replace(/\/$/, ''), line);
  }
  return entries;
}

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/**
 * Mount /proc (and bind /dev when the root has no device nodes) in `root`; returns the mount
 * points made here, to unmount afterwards (a mount that was already there is left alone).
 */
export function mountForChroot(root: string): string[] {
  const made: string[] = [];
  const proc = join(root, 'proc');
  if (!mounted(proc)) {
    execFileSync('mount', ['-t', 'proc', 'proc', proc]);
    made.push(proc);
  }
  const dev = join(root, 'dev');
  let hasNull = false;
  try {
    hasNull = statSync(join(dev, 'null')).isCharacterDevice();
  } catch {
    // no /dev/null: bind the host's /dev
  }
  if (!hasNull && !mounted(dev)) {
    execFileSync('mount', ['--bind', '/dev', dev]);
    made.push(dev);
  }
  return made;
}

export function unmount(points: readonly string[]): void {
  for (const point of [...points].reverse()) {
    try {
      execFileSync('umount', [point]);
    } catch {
      execFileSync('umount', ['-l', point]);
    }
  }
}

/** Live processes whose root directory is `root` (they run inside the chroot). */
export function processesInRoot(root: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`) !== root) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      found.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() });
    } catch {
      // ended while we looked, or not ours to read
    }
  }
  return found;
}

/**
 * The argv that runs the image as a container runtime would, through chroot(8): its User, Env and
 * WorkingDir, then Entrypoint + `args` (the CMD a user gives).
 */
export function chrootArgv(root: string, config: ImageConfig, args: readonly string[]): string[] {
  const user = config.User ?? '0:0';
  return [
    '--userspec', user.includes(':') ? user : `${user}:${user}`,
    root,
    '/usr/bin/env', '-i', '-C', config.WorkingDir ?? '/',
    ...(config.Env ?? []),
    ...(config.Entrypoint ?? []),
    ...args,
  ];
}

/** The last stage's instructions of a Containerfile (continuations joined, comments dropped; the last of each wins). */
export function containerfileInstructions(text: string): Map<string, string> {
  const lines = text.replace(/\\\n/g, ' ').split('\n').filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  const stages: Map<string, string>[] = [];
  for (const line of lines) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    const instruction = match[1].toUpperCase();
    if (instruction === 'FROM' || stages.length === 0) stages.push(new Map());
    stages.at(-1)!.set(instruction, match[2].trim().replace(/\s+/g, ' '));
  }
  return stages.at(-1) ?? new Map<string, string>();
}
