/**
 * The building blocks of configuration, shared by the core schema (src/config/config.ts) and each chat platform's
 * `*-config.ts`: how an environment value is read (booleans, bounded integers, optional strings where blank means
 * unset), and the types a platform's part of the schema is written in. Kept apart from config.ts so a platform's
 * config can use them without importing the schema that imports every platform.
 */
import { z } from 'zod';

/** The environment as given (process.env, or a test's object). */
export type RawEnv = Record<string, string | undefined>;

/** A set of keys with their zod schemas: the core's, or one platform's. */
export type ConfigShape = z.core.$ZodShape;

/** What parsing a {@link ConfigShape} gives. */
export type ConfigOf<S extends ConfigShape> = z.output<z.ZodObject<S>>;

export const envBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Blank or whitespace means unset, so a `KEY=` line in .env leaves the feature off instead of setting it to ''. */
export const envOptionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));

/** True when the raw environment has a non-blank value for `key` (for rules between keys). */
export function hasValue(env: RawEnv, key: string): boolean {
  return Boolean(env[key]?.trim());
}
