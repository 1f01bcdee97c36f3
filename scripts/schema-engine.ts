/**
 * Prisma's schema engine, compiled to WebAssembly (`@prisma/schema-engine-wasm`), driven from Node with no native
 * binary and no download. Used by `npm run db:diff` to write migration SQL and by the tests to check for drift.
 *
 * The package's entry module is ESM and imports the `.wasm` file directly, which neither Node's CommonJS loader nor
 * Jest can load. So we evaluate its JS glue (`schema_engine_bg.js`, plain functions with no imports) ourselves and
 * instantiate the WebAssembly module by hand, the way the entry module would.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  DriverAdapterError,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { DiffParams, DiffResult, DiffTarget, MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm';
import pg from 'pg';
import { withDatabaseName } from '../src/store/migrate';

/** The server the engine talks to unless told otherwise; a datamodel-only diff only reads `version()` from it. */
export const DEFAULT_ENGINE_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

// The project's TypeScript libs (ES2023, no DOM) do not declare WebAssembly; this is the part used here.
type WasmExports = Record<string, unknown>;
type WasmImports = Record<string, Record<string, unknown>>;
interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}
declare const WebAssembly: {
  Module: { new (bytes: Uint8Array): WasmModule; imports(module: WasmModule): { module: string; name: string }[] };
  Instance: new (module: WasmModule, imports: WasmImports) => { exports: WasmExports };
};

interface Glue {
  SchemaEngine: typeof SchemaEngine;
  version(): string;
  __wbg_set_wasm(exports: WasmExports): void;
}

let glue: Glue | undefined;

function loadGlue(): Glue {
  if (glue) return glue;
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const source = readFileSync(gluePath, 'utf8');
  if (/^\s*import\s/m.test(source)) {
    // A newer glue that imports other modules would need a real ESM loader; fail loudly rather than half-work.
    throw new Error('@prisma/schema-engine-wasm: unexpected import in schema_engine_bg.js; update scripts/schema-engine.ts');
  }
  const names = [...source.matchAll(/^export\s+(?:async\s+)?(?:function|class|const|let|var)\s+([A-Za-z0-9_$]+)/gm)].map(
    (m) => m[1],
  );
  const body = `'use strict';\n${source.replace(/^export\s+/gm, '')}\nreturn { ${names.join(', ')} };`;
  // `module` is shadowed so the glue sees what it would see as ESM (it probes `module.require` for Node's crypto).
  const ns = new Function('module', body)(undefined) as Record<string, unknown> & Glue;

  const wasmModule = new WebAssembly.Module(readFileSync(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm')));
  const imports: WasmImports = {};
  for (const imp of WebAssembly.Module.imports(wasmModule)) {
    imports[imp.module] ??= {};
    const fn = ns[imp.name];
    if (fn === undefined) throw new Error(`@prisma/schema-engine-wasm: glue lacks wasm import ${imp.name}`);
    imports[imp.module][imp.name] = fn;
  }
  const instance = new WebAssembly.Instance(wasmModule, imports);
  ns.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  glue = ns;
  return glue;
}

/** The engine's own version (the prisma-engines commit it was built from). */
export function schemaEngineVersion(): string {
  return loadGlue().version();
}

function toDriverError(error: unknown): unknown {
  const e = error as { code?: unknown; severity?: unknown; message?: unknown; detail?: string; column?: string; hint?: string };
  if (typeof e?.code === 'string' && typeof e.severity === 'string' && typeof e.message === 'string') {
    return new DriverAdapterError({
      kind: 'postgres',
      code: e.code,
      severity: e.severity,
      message: e.message,
      detail: e.detail,
      column: e.column,
      hint: e.hint,
    });
  }
  return error;
}

/**
 * adapter-pg's `executeScript` splits scripts on `;` and runs the pieces one by one, which breaks `$$ … $$` function
 * bodies and is not what `prisma migrate` does. This sends the whole script as one simple-protocol query (one implicit
 * transaction), like the native engine and like our runner in src/store/migrate.ts.
 */
function wholeScriptAdapter(inner: SqlDriverAdapter, pool: pg.Pool, release: () => Promise<void>): SqlDriverAdapter {
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    queryRaw: (q) => inner.queryRaw(q),
    executeRaw: (q) => inner.executeRaw(q),
    startTransaction: (level) => inner.startTransaction(level),
    getConnectionInfo: inner.getConnectionInfo ? () => inner.getConnectionInfo!() : undefined,
    async executeScript(script: string) {
      try {
        await pool.query(script);
      } catch (error) {
        throw toDriverError(error);
      }
    },
    dispose: release,
  };
}

/** OID of Postgres' internal one-byte `"char"` type, used all over pg_catalog. */
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

function charColumnsAsText<T>(result: T): T {
  const fields = (result as { fields?: { dataTypeID: number }[] } | undefined)?.fields;
  for (const field of fields ?? []) if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  return result;
}

/**
 * The engine's introspection reads pg_catalog columns of type `"char"` (relkind, contype, ...), which adapter-pg
 * rejects as an unsupported column type. pg already hands them over as one-character strings, so announcing them as
 * text is exact.
 */
class CharAsTextClient extends pg.Client {
  // pg's overloads cannot be restated generically (hence `any`); this only post-processes what the base returns.
  override query(config: any, values?: any, callback?: any): any {
    if (typeof values === 'function') [callback, values] = [values, undefined];
    if (typeof config?.submit === 'function') return super.query(config, values, callback);
    if (typeof callback === 'function') {
      return super.query(config, values, (err: Error | null, res: unknown) => callback(err, err ? res : charColumnsAsText(res)));
    }
    return (super.query(config, values) as Promise<unknown>).then(charColumnsAsText);
  }
}

/**
 * A driver-adapter factory for the engine. Shadow databases (used to replay a migrations directory) are created on the
 * same server and dropped WITH (FORCE) on dispose: adapter-pg's own version drops while its pool is still connected,
 * which fails and leaves them behind.
 */
class EngineAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  private readonly open = new Set<SqlDriverAdapter>();

  constructor(private readonly url: string) {}

  private async connectTo(url: string, afterEnd?: () => Promise<void>): Promise<SqlDriverAdapter> {
    const pool = new pg.Pool({ connectionString: url, max: 2, Client: CharAsTextClient });
    const inner = await new PrismaPg(pool).connect();
    let disposed = false;
    const adapter = wholeScriptAdapter(inner, pool, async () => {
      if (disposed) return;
      disposed = true;
      this.open.delete(adapter);
      await pool.end();
      await afterEnd?.();
    });
    this.open.add(adapter);
    return adapter;
  }

  connect(): Promise<SqlDriverAdapter> {
    return this.connectTo(this.url);
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const name = `prisma_migrate_shadow_db_${randomUUID().replace(/-/g, '')}`;
    await adminQuery(this.url, `CREATE DATABASE "${name}"`);
    return this.connectTo(withDatabaseName(this.url, name), () => adminQuery(this.url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }

  /** Closes every connection the engine left open (it does not always dispose them). */
  async disposeAll(): Promise<void> {
    for (const adapter of [...this.open]) await adapter.dispose();
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A running engine; call {@link EngineSession.close} to release its database connections. */
export interface EngineSession {
  /** The raw engine `diff` command. */
  diff(params: DiffParams): Promise<DiffResult>;
  close(): Promise<void>;
}

/**
 * Starts a schema engine connected (lazily) to `databaseUrl`. The engine needs a reachable Postgres even for a
 * datamodel-only diff (it reads the server version); replaying a migrations directory also needs CREATEDB rights for
 * a temporary shadow database.
 */
export async function openSchemaEngine(opts: { databaseUrl?: string; log?: (line: string) => void } = {}): Promise<EngineSession> {
  const { SchemaEngine: Engine } = loadGlue();
  const factory = new EngineAdapterFactory(opts.databaseUrl ?? DEFAULT_ENGINE_DATABASE_URL);
  const engine = await Engine.new({ datamodels: undefined }, (line: string) => opts.log?.(line), bindMigrationAwareSqlAdapterFactory(factory));
  return {
    diff: (params) => engine.diff(params),
    async close() {
      engine.free();
      await factory.disposeAll();
    },
  };
}

function datamodelTarget(schemaText: string | null): DiffTarget {
  if (schemaText === null) return { tag: 'empty' };
  return { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schemaText }] };
}

const noFilters = { externalTables: [], externalEnums: [] };

async function diffTargets(from: DiffTarget, to: DiffTarget, databaseUrl?: string): Promise<string> {
  const engine = await openSchemaEngine({ databaseUrl });
  try {
    // exitCode: true makes the engine report emptiness itself (2 = changes), rather than us parsing its comments.
    const result = await engine.diff({ from, to, script: true, exitCode: true, filters: noFilters });
    return result.exitCode === 2 ? (result.stdout ?? '') : '';
  } finally {
    await engine.close();
  }
}

/**
 * The SQL migration script that takes a database from `fromSchemaText` (null: an empty database) to `toSchemaText`,
 * byte for byte what `prisma migrate diff --script` prints; `''` when there is nothing to change.
 */
export function diffSchemas(fromSchemaText: string | null, toSchemaText: string, opts: { databaseUrl?: string } = {}): Promise<string> {
  return diffTargets(datamodelTarget(fromSchemaText), datamodelTarget(toSchemaText), opts.databaseUrl);
}

/**
 * Reads a Prisma migrations directory the way the Prisma CLI hands it to the engine: every subdirectory, sorted, with
 * its `migration.sql`.
 */
export async function loadMigrationList(migrationsDir: string): Promise<MigrationList> {
  const baseDir = path.resolve(migrationsDir);
  const entries = await readdir(baseDir, { withFileTypes: true });
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    dirs.map(async (name) => {
      const file = path.join(baseDir, name, 'migration.sql');
      const content = await readFile(file, 'utf8').then(
        (value) => ({ tag: 'ok' as const, value }),
        (error: Error) => ({ tag: 'error' as const, value: error.message }),
      );
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  const lockPath = path.join(baseDir, 'migration_lock.toml');
  const lockContent = await stat(lockPath).then(
    () => readFile(lockPath, 'utf8'),
    () => null,
  );
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/**
 * The SQL that would take a database built by replaying `migrationsDir` (in a temporary shadow database) to
 * `toSchemaText`; `''` when the migrations produce exactly what the schema declares. Objects Prisma does not model
 * (triggers, functions, seed rows) are ignored by the comparison.
 */
export async function diffMigrationsToSchema(
  migrationsDir: string,
  toSchemaText: string,
  opts: { databaseUrl?: string } = {},
): Promise<string> {
  const migrations = await loadMigrationList(migrationsDir);
  return diffTargets({ tag: 'migrations', ...migrations }, datamodelTarget(toSchemaText), opts.databaseUrl);
}

/**
 * The SQL that would take the live database at `url` to `toSchemaText`; `''` when it already matches. The engine
 * reaches the database through the driver adapter (this engine no longer accepts a `url` diff source).
 */
export function diffDatabaseToSchema(url: string, toSchemaText: string): Promise<string> {
  const from: DiffTarget = { tag: 'schemaDatasource', configDir: process.cwd(), files: [{ path: 'schema.prisma', content: toSchemaText }] };
  return diffTargets(from, datamodelTarget(toSchemaText), url);
}
