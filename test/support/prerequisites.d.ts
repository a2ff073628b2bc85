// Types for prerequisites.js, which stays plain CommonJS so that `npm test` can run it
// with node before tsc (see the comment at its top). The list itself lives only there.

export type Platform = 'debian' | 'macos' | 'fedora';

export interface Prerequisite {
  /** The name a test asks binaryPath() for. */
  name: string;
  /** Overrides the path; when set, nothing else is tried. */
  variable: string;
  /** Tried in order when the variable is unset: absolute paths, or names looked up on PATH. */
  candidates: readonly string[];
  neededFor: string;
  packages: Readonly<Record<Platform, string>>;
}

export interface Resolution {
  prerequisite: Prerequisite;
  /** Absolute path of the executable, when found. */
  path?: string;
  /** Why it was not found, when it was not. */
  problem?: string;
}

export const PREREQUISITES: readonly Prerequisite[];
export const PLATFORMS: Readonly<Record<Platform, { label: string; install(packages: string[]): string }>>;
export function resolvePrerequisite(prerequisite: Prerequisite, env?: NodeJS.ProcessEnv): Resolution;
export function resolveAll(env?: NodeJS.ProcessEnv): Resolution[];
export function missingPrerequisites(env?: NodeJS.ProcessEnv): Resolution[];
export function detectPlatform(platform?: NodeJS.Platform, osRelease?: string): Platform | undefined;
export function describeMissing(missing: Resolution[], platform: Platform | undefined): string;
export function assertPrerequisites(env?: NodeJS.ProcessEnv): void;
/** A Prerequisite's name (a string, not a union of them, so the names are written once, in the .js). */
export function binaryPath(name: string, env?: NodeJS.ProcessEnv): string;
