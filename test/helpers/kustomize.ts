// What `kubectl kustomize` would make of deploy/k8s, for tests on a machine without kubectl: the resources
// (files and directories), configMapGenerator/secretGenerator from files and literals, `namespace`, `images`
// and `patches` with a target. Only the kustomization fields listed in KNOWN are modelled; any other makes
// build() throw rather than give a different result from kustomize. Patches are applied as JSON merge patches
// (RFC 7386): that is what kustomize does to custom resources; for built-in kinds its strategic merge differs
// only for lists, so a patch of a built-in kind that holds a list is refused. Generated names keep no hash
// suffix (kustomize appends one unless disableNameSuffixHash, and rewrites the references to match).
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field by the tests
  spec?: any;
  data?: Record<string, string>;
  [k: string]: unknown;
}

interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean };
}

export interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
}

const KNOWN = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'configMapGenerator',
  'secretGenerator',
  'images',
  'patches',
]);
const CLUSTER_SCOPED = new Set(['Namespace']);
/** Built-in API groups (strategic merge in kustomize); anything else is a custom resource. */
const BUILT_IN = /^(v1|apps\/v1|policy\/v1|autoscaling\/v2|batch\/v1)$/;

export function readKustomization(dir: string): Kustomization {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((f) => !KNOWN.has(f));
  if (unknown.length > 0)
    throw new Error(
      `${dir}/kustomization.yaml: ${unknown.join(', ')} not modelled by test/helpers/kustomize.ts`,
    );
  return k;
}

/** Splits `key=value` literals (the value may hold `=`). */
export function literalPairs(literals: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(
    literals.map((l) => {
      const at = l.indexOf('=');
      return [l.slice(0, at), l.slice(at + 1)];
    }),
  );
}

function generated(dir: string, kind: 'ConfigMap' | 'Secret', g: Generator): K8sObject {
  const data: Record<string, string> = literalPairs(g.literals);
  for (const f of g.files ?? []) data[basename(f)] = readFileSync(join(dir, f), 'utf8');
  if (kind === 'ConfigMap') return { apiVersion: 'v1', kind, metadata: { name: g.name }, data };
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  return { apiVersion: 'v1', kind, type: 'Opaque', metadata: { name: g.name }, data: encoded };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: mappings merge, null deletes, anything else (lists included) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return patch;
  const out: Record<string, unknown> = isPlain(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function holdsList(v: unknown): boolean {
  if (Array.isArray(v)) return true;
  return isPlain(v) && Object.values(v).some(holdsList);
}

/** The objects `kubectl kustomize dir` would print (see the file's head for what is modelled). */
export function build(dir: string): K8sObject[] {
  const k = readKustomization(dir);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    if (statSync(path).isDirectory()) objects.push(...build(path));
    else
      for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
        if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
        const o = doc.toJS() as K8sObject | null;
        if (o) objects.push(o);
      }
  }
  for (const g of k.configMapGenerator ?? []) objects.push(generated(dir, 'ConfigMap', g));
  for (const g of k.secretGenerator ?? []) objects.push(generated(dir, 'Secret', g));

  for (const p of k.patches ?? []) {
    const patch = parse(p.patch) as K8sObject;
    const i = objects.findIndex((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (i < 0)
      throw new Error(`${dir}: patch target ${p.target.kind}/${p.target.name} is not in the resources`);
    if (BUILT_IN.test(objects[i]!.apiVersion) && holdsList(patch))
      throw new Error(
        `${dir}: patch of ${p.target.kind}/${p.target.name} holds a list (strategic merge not modelled)`,
      );
    objects[i] = mergePatch(objects[i], patch) as K8sObject;
  }

  for (const img of k.images ?? [])
    objects = objects.map((o) => {
      const containers = o.spec?.template?.spec?.containers as { image: string }[] | undefined;
      if (!containers?.some((c) => c.image === img.name)) return o;
      const copy = structuredClone(o);
      for (const c of copy.spec.template.spec.containers as { image: string }[])
        if (c.image === img.name) c.image = `${img.newName ?? img.name}${img.newTag ? `:${img.newTag}` : ''}`;
      return copy;
    });

  if (k.namespace)
    objects = objects.map((o) =>
      CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: k.namespace } },
    );
  return objects;
}
