/**
 * Checks an OpenAPI 3.1 document the way a code generator relies on it, with no validator package the project does
 * not already have: the required objects and fields of the 3.1 specification, every `$ref` resolvable, every path
 * template parameter declared, operation ids unique, and every schema a valid JSON Schema 2020-12 (compiled by Ajv,
 * the dialect OpenAPI 3.1 uses). Returns the problems found; an empty list means the document validates.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function resolvePointer(doc: Json, ref: string): Json {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((node: Json, key) => (node === undefined || node === null ? undefined : node[key]), doc);
}

function* refsIn(node: Json, at: string): Generator<{ ref: string; at: string }> {
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* refsIn(v, `${at}/${i}`);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') yield { ref: v, at };
      else yield* refsIn(v, `${at}/${k}`);
    }
  }
}

export function checkOpenApi31(doc: Json): string[] {
  const problems: string[] = [];
  const need = (cond: unknown, problem: string) => {
    if (!cond) problems.push(problem);
  };
  need(typeof doc?.openapi === 'string' && /^3\.1\.\d+$/.test(doc.openapi), `openapi must be 3.1.x, is ${doc?.openapi}`);
  need(typeof doc?.info?.title === 'string' && doc.info.title.length > 0, 'info.title is required');
  need(typeof doc?.info?.version === 'string' && doc.info.version.length > 0, 'info.version is required');
  need(doc.paths || doc.components || doc.webhooks, 'one of paths, components or webhooks is required');

  for (const { ref, at } of refsIn(doc, '#')) need(resolvePointer(doc, ref) !== undefined, `${at}: $ref ${ref} does not resolve`);

  const schemes = doc.components?.securitySchemes ?? {};
  for (const requirement of doc.security ?? []) for (const name of Object.keys(requirement)) need(schemes[name], `security names an undeclared scheme ${name}`);

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components ?? {} });
  const compile = (schema: Json, where: string) => {
    try {
      // Local refs point into the document; resolve them against the components registered above.
      const rewritten = JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, '"$ref":"doc#/'));
      ajv.compile(rewritten);
    } catch (err) {
      problems.push(`${where}: not a valid JSON Schema 2020-12: ${(err as Error).message}`);
    }
  };
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) compile(schema, `components.schemas.${name}`);

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    need(path.startsWith('/'), `path ${path} must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      need(op.responses && Object.keys(op.responses).length > 0, `${where}: responses are required`);
      for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
        need(/^([1-5]\d\d|[1-5]XX|default)$/.test(status), `${where}: response key ${status} is not a status`);
        need(typeof (response.description ?? resolvePointer(doc, response.$ref ?? '')?.description) === 'string', `${where} ${status}: description is required`);
        for (const [media, content] of Object.entries<Json>(response.content ?? {})) if (content.schema) compile(content.schema, `${where} ${status} ${media}`);
      }
      if (op.operationId) {
        need(!operationIds.has(op.operationId), `${where}: operationId ${op.operationId} is not unique`);
        operationIds.add(op.operationId);
      }
      const params: Json[] = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      const seen = new Set<string>();
      for (const p of params) {
        need(typeof p.name === 'string' && ['query', 'header', 'path', 'cookie'].includes(p.in), `${where}: parameter needs name and in`);
        need(!seen.has(`${p.in}:${p.name}`), `${where}: parameter ${p.in}:${p.name} declared twice`);
        seen.add(`${p.in}:${p.name}`);
        if (p.in === 'path') need(p.required === true && templated.includes(p.name), `${where}: path parameter ${p.name} must be required and in the template`);
        need(p.schema || p.content, `${where}: parameter ${p.name} needs a schema or content`);
        if (p.schema) compile(p.schema, `${where} parameter ${p.name}`);
      }
      for (const name of templated) need(params.some((p) => p.in === 'path' && p.name === name), `${where}: path parameter {${name}} is not declared`);
      for (const [media, content] of Object.entries<Json>(op.requestBody?.content ?? {})) if (content.schema) compile(content.schema, `${where} body ${media}`);
    }
  }
  return problems;
}
